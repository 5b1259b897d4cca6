"""AI endpoints: /api/ai/... (generate, edit-message, regenerate, embeddings), each also
as server-sent events under .../stream."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from apsara_core.errors import ApsaraError
from apsara_core.http import responses
from apsara_core.http.deps import acting_for, core_of, doc_route, jsonable, ok, read_json
from apsara_core.http.schemas import EditBody, EmbeddingsBody, GenerateBody, RegenerateBody
from apsara_core.services.chat import ChatEvent

log = logging.getLogger("apsara.http")


Args = tuple[dict[str, Any], bool]
"""The chat service's keyword arguments, and whether the caller asked for a stream."""


def _wants_stream(request: Request, body: GenerateBody | EditBody | RegenerateBody) -> bool:
    """`"stream": true` in the body, or `Accept: text/event-stream`."""
    return body.stream or "text/event-stream" in request.headers.get("accept", "").lower()


async def _generate_args(request: Request) -> Args:
    body = await read_json(request, GenerateBody)
    request.state.fields = {"text": "contents"}
    args = {
        "actor": await acting_for(request, body.userId),
        "conversation_id": body.conversationId,
        "text": body.contents,
        "model": body.model,
        "config": body.config,
        "files": body.files,
    }
    return args, _wants_stream(request, body)


async def _edit_args(request: Request) -> Args:
    body = await read_json(request, EditBody)
    request.state.fields = {"newText": "newContent", "text": "newContent"}
    args = {
        "actor": await acting_for(request, body.userId),
        "conversation_id": body.conversationId,
        "message_id": body.messageId,
        "new_text": body.newContent,
        "model": body.model,
        "config": body.config,
        "files": body.files,
    }
    return args, _wants_stream(request, body)


async def _regenerate_args(request: Request) -> Args:
    body = await read_json(request, RegenerateBody)
    args = {
        "actor": await acting_for(request, body.userId),
        "conversation_id": body.conversationId,
        "message_id": body.messageId,
        "model": body.model,
        "config": body.config,
        "files": body.files,
    }
    return args, _wants_stream(request, body)


async def _answer(
    args: Args,
    reply: Callable[..., Awaitable[dict[str, Any]]],
    events: Callable[..., AsyncGenerator[ChatEvent, None]],
    streamed: bool | None = None,
) -> Response:
    """The one answer of every chat route: the JSON reply, or (asked for, or on a /stream
    route) the events as server-sent events."""
    kwargs, wanted = args
    if streamed or (streamed is None and wanted):
        return await _sse(events(**kwargs))
    return ok(**await reply(**kwargs))


async def generate(request: Request) -> Response:
    """Generate a reply (history and files included automatically); server-sent events with
    `"stream": true` or `Accept: text/event-stream`."""
    chat = core_of(request).chat
    return await _answer(await _generate_args(request), chat.generate, chat.stream)


async def edit_message(request: Request) -> Response:
    """Edit a user message and regenerate the reply (later messages archived, not lost);
    streamed like generate."""
    chat = core_of(request).chat
    return await _answer(await _edit_args(request), chat.edit, chat.stream_edit)


async def regenerate(request: Request) -> Response:
    """Regenerate the last or a given reply (the earlier version is kept); streamed like
    generate."""
    chat = core_of(request).chat
    return await _answer(await _regenerate_args(request), chat.regenerate, chat.stream_regenerate)


async def embeddings(request: Request) -> JSONResponse:
    """Embed one text or a batch."""
    body = await read_json(request, EmbeddingsBody)
    request.state.fields = {"texts": "contents"}
    texts = [body.contents] if isinstance(body.contents, str) else body.contents
    result = await core_of(request).chat.embed(
        actor=await acting_for(request, body.userId),
        texts=texts,
        model=body.model,
        task_type=body.taskType,
        output_dimensionality=body.outputDimensionality,
    )
    return ok(**result)


class EventStream(StreamingResponse):
    """Chat events as server-sent events: `data: {"type", "text", "data"}` per event.

    A failure after the first event arrives as an "error" event (the chat stream yields it
    before raising) and the stream ends cleanly. A client that disconnects cancels the
    generator, and so the upstream call; the events are closed however the response ends
    (even when the client left before the first byte), so the reserved quota unit is always
    settled.
    """

    def __init__(self, events: AsyncGenerator[ChatEvent, None], first: ChatEvent) -> None:
        self.events = events
        super().__init__(
            self._body(first),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def _body(self, first: ChatEvent) -> AsyncIterator[bytes]:
        yield _sse_line(first)
        try:
            async for event in self.events:
                yield _sse_line(event)
        except ApsaraError:
            return  # already sent as the error event
        except Exception:  # a bug: sent as an INTERNAL_ERROR event; the stream still ends well
            log.exception("chat stream failed")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.events.aclose()


def _sse_line(event: ChatEvent) -> bytes:
    payload = {"type": event.kind, "text": event.text, "data": jsonable(event.data)}
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n".encode()


async def _sse(events: AsyncGenerator[ChatEvent, None]) -> EventStream:
    """Start a chat stream and answer with it as server-sent events.

    Its first event ("started") is awaited here, before any response: an error known before
    the stream starts (unknown or foreign conversation 404, quota 429 with usageInfo and
    resetTime, unknown model 400) is raised and answered with its status and JSON envelope.
    """
    return EventStream(events, await anext(events))


async def generate_stream(request: Request) -> Response:
    """Generate, streamed as server-sent events (started, thought, text, usage, done | error)."""
    chat = core_of(request).chat
    return await _answer(await _generate_args(request), chat.generate, chat.stream, True)


async def edit_message_stream(request: Request) -> Response:
    """Edit a message, the new reply streamed as server-sent events."""
    chat = core_of(request).chat
    return await _answer(await _edit_args(request), chat.edit, chat.stream_edit, True)


async def regenerate_stream(request: Request) -> Response:
    """Regenerate, streamed as server-sent events."""
    chat = core_of(request).chat
    args = await _regenerate_args(request)
    return await _answer(args, chat.regenerate, chat.stream_regenerate, True)


R = responses
AI_ERRORS = (409, 422, 502)


def _chat_routes(
    path: str,
    plain: Callable[[Request], Awaitable[Response]],
    streamed: Callable[[Request], Awaitable[Response]],
    body: type[GenerateBody | EditBody | RegenerateBody],
) -> list[Route]:
    """A chat route and its .../stream twin, documented alike."""
    return [
        doc_route(route, handler, ok=R.Reply, body=body, errors=AI_ERRORS, stream=True)
        for route, handler in ((path, plain), (f"{path}/stream", streamed))
    ]


ROUTES = [
    *_chat_routes("/ai/generate", generate, generate_stream, GenerateBody),
    *_chat_routes("/ai/edit-message", edit_message, edit_message_stream, EditBody),
    *_chat_routes("/ai/regenerate", regenerate, regenerate_stream, RegenerateBody),
    doc_route("/ai/embeddings", embeddings, ok=R.Embeddings, body=EmbeddingsBody, errors=AI_ERRORS),
]
