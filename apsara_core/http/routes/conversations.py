"""Conversation endpoints: /api/conversations (the spec's table)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from apsara_core.errors import ValidationError
from apsara_core.http import responses
from apsara_core.http.deps import acting_for, core_of, doc_route, ok, read_json, require_actor
from apsara_core.http.schemas import (
    ConversationCreateBody,
    ConversationListQuery,
    ConversationUpdateBody,
    MessagesQuery,
)


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    # isascii: str.isdigit accepts "²", which int() refuses; the length bound keeps int()
    # within its 4300-digit limit.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 12) or not low <= int(raw) <= high:
        raise ValidationError(f"{name} must be an integer from {low} to {high}", field=name)
    return int(raw)


async def create(request: Request) -> JSONResponse:
    """Create a conversation (optionally with a system instruction)."""
    body = await read_json(request, ConversationCreateBody)
    actor = await acting_for(request, body.userId)
    conv = await core_of(request).conversations.create(
        actor=actor, title=body.title, system_instruction=body.systemInstruction
    )
    return ok(201, conversation=conv, conversationId=conv["conversationId"])


async def list_conversations(request: Request) -> JSONResponse:
    """The caller's conversations (admins: all, or ?userId=)."""
    actor = await require_actor(request)
    items = await core_of(request).conversations.list(
        actor=actor,
        user_id=request.query_params.get("userId"),
        limit=_int_param(request, "limit", 50, 1, 500),
        skip=_int_param(request, "skip", 0, 0, 10**9),
    )
    return ok(conversations=items, count=len(items))


async def get(request: Request) -> JSONResponse:
    """One conversation."""
    actor = await require_actor(request)
    conv = await core_of(request).conversations.get(
        actor=actor, conversation_id=request.path_params["conversation_id"]
    )
    return ok(conversation=conv)


async def messages(request: Request) -> JSONResponse:
    """A window of the conversation's messages (newest, or ?before=SEQUENCE)."""
    actor = await require_actor(request)
    before = request.query_params.get("before")
    request.state.fields = {"beforeSequence": "before"}
    items = await core_of(request).conversations.messages(
        actor=actor,
        conversation_id=request.path_params["conversation_id"],
        before_sequence=_int_param(request, "before", 0, 1, 10**9) if before else None,
        limit=_int_param(request, "limit", 50, 1, 500),
    )
    return ok(messages=items, count=len(items))


async def update(request: Request) -> JSONResponse:
    """Rename, or set the system instruction (only before the first message)."""
    body = await read_json(request, ConversationUpdateBody)
    actor = await acting_for(request, body.userId)
    conv = await core_of(request).conversations.update(
        actor=actor,
        conversation_id=request.path_params["conversation_id"],
        title=body.title,
        system_instruction=body.systemInstruction,
    )
    return ok(conversation=conv)


async def delete(request: Request) -> JSONResponse:
    """Delete a conversation and its messages."""
    actor = await require_actor(request)
    result = await core_of(request).conversations.delete(
        actor=actor, conversation_id=request.path_params["conversation_id"]
    )
    return ok(message="Conversation deleted", deleted=result)


R = responses
ROUTES = [
    doc_route(
        "/conversations", create, ok=R.ConversationCreated, status=201, body=ConversationCreateBody
    ),
    doc_route(
        "/conversations", list_conversations, "GET", ok=R.Conversations, query=ConversationListQuery
    ),
    doc_route("/conversations/{conversation_id}", get, "GET", ok=R.OneConversation),
    doc_route(
        "/conversations/{conversation_id}/messages",
        messages,
        "GET",
        ok=R.Messages,
        query=MessagesQuery,
    ),
    doc_route(
        "/conversations/{conversation_id}",
        update,
        "PUT",
        ok=R.OneConversation,
        body=ConversationUpdateBody,
        errors=(409,),
    ),
    doc_route("/conversations/{conversation_id}", delete, "DELETE", ok=R.Deleted),
]
