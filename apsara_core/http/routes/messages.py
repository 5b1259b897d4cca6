"""Single messages of a conversation: delete one, search the text, sibling versions."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from apsara_core.errors import ValidationError
from apsara_core.http import responses as R
from apsara_core.http.deps import acting_for, core_of, doc_route, ok, read_json, require_actor
from apsara_core.http.routes.conversations import _int_param
from apsara_core.http.schemas import DeleteMessageQuery, SearchQuery, VersionBody

TRUE, FALSE = ("true", "1"), ("false", "0")


def _flag(request: Request, name: str) -> bool:
    raw = request.query_params.get(name)
    if raw is None or raw.lower() in FALSE:
        return False
    if raw.lower() in TRUE:
        return True
    raise ValidationError(f"{name} must be true or false", field=name)


async def delete_message(request: Request) -> JSONResponse:
    """Delete one message (owner or admin).

    A user message that a reply answers goes only with it (?withReply=true); without it
    the answer is 409, naming the reply.
    """
    actor = await require_actor(request)
    result = await core_of(request).messages.delete_message(
        actor=actor,
        conversation_id=request.path_params["conversation_id"],
        message_id=request.path_params["message_id"],
        with_reply=_flag(request, "withReply"),
    )
    return ok(message="Message deleted", deleted=result)


async def search(request: Request) -> JSONResponse:
    """Find the conversation's messages whose text contains ?query= (any case), by sequence."""
    actor = await require_actor(request)
    result = await core_of(request).messages.search_messages(
        actor=actor,
        conversation_id=request.path_params["conversation_id"],
        query=request.query_params.get("query"),
        page=_int_param(request, "page", 1, 1, 10**6),
        limit=_int_param(request, "limit", 20, 1, 100),
    )
    return ok(**result)


async def versions(request: Request) -> JSONResponse:
    """The messages with sibling versions (from edit and regenerate), versions numbered."""
    actor = await require_actor(request)
    forks = await core_of(request).messages.versions(
        actor=actor, conversation_id=request.path_params["conversation_id"]
    )
    return ok(versions=forks, count=len(forks))


async def switch_version(request: Request) -> JSONResponse:
    """Make a version of the message current, with all that follows it; the branch that was
    current is kept as a sibling version."""
    body = await read_json(request, VersionBody)
    actor = await acting_for(request, body.userId)
    request.state.fields = {"toVersion": "version"}
    result = await core_of(request).messages.switch_version(
        actor=actor,
        conversation_id=request.path_params["conversation_id"],
        message_id=request.path_params["message_id"],
        to_version=body.version,
    )
    return ok(**result)


MESSAGE = "/conversations/{conversation_id}/messages/{message_id}"
ROUTES = [
    doc_route(
        MESSAGE,
        delete_message,
        "DELETE",
        ok=R.MessageDeleted,
        query=DeleteMessageQuery,
        errors=(409,),
    ),
    doc_route(
        "/conversations/{conversation_id}/search",
        search,
        "GET",
        ok=R.SearchResults,
        query=SearchQuery,
    ),
    doc_route("/conversations/{conversation_id}/versions", versions, "GET", ok=R.Versions),
    doc_route(
        MESSAGE + "/version", switch_version, ok=R.VersionSwitched, body=VersionBody, errors=(409,)
    ),
]
