"""The OpenAI-compatible endpoint under /v1: chat completions (streamed or not) and models.

Any OpenAI client works against `http://HOST:PORT/v1` with an Apsara token (or API key) as its
key. Calls are metered by the caller's plan. With a `conversation` field (or the
X-Apsara-Conversation header) the last user message is appended to that stored conversation
and its history is used; without, the call is stateless (the caller's messages are the
history) but still metered. Errors leave in OpenAI's shape `{"error": {message, type, code,
param}}` with Apsara's status, so the SDK raises its usual exception classes.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from apsara_core.errors import ApsaraError, ValidationError
from apsara_core.http.deps import _refuse_constant as refuse_constant
from apsara_core.http.deps import core_of, jsonable, read_body, require_actor
from apsara_core.http.errors import error_headers
from apsara_core.http.openapi_files import documented
from apsara_core.http.openapi_v1 import CHAT_DOC, MODELS_DOC
from apsara_core.services.chat import ChatEvent, collect
from apsara_core.services.chat_stateless import openai_config
from apsara_core.services.input_checks import check_tree
from apsara_core.services.plan_groups import effective_models

log = logging.getLogger("apsara.http")
CONVERSATION_HEADER = "x-apsara-conversation"
FINISH = {"STOP": "stop", "MAX_TOKENS": "length"}


def openai_error(exc: ApsaraError) -> dict[str, Any]:
    """An ApsaraError in OpenAI's error shape."""
    return {
        "error": {
            "message": exc.message,
            "type": exc.title,
            "code": exc.code,
            "param": exc.field,
            "details": exc.details,
            "suggestions": exc.suggestions,
        }
    }


def _openai_errors(handler: Callable[[Request], Awaitable[Response]]) -> Any:
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except ApsaraError as exc:
            headers = error_headers(exc, core_of(request).clock.now())
            if getattr(request.state, "close_connection", False):
                headers["Connection"] = "close"
            return JSONResponse(
                jsonable(openai_envelope(exc)), status_code=exc.http_status, headers=headers
            )

    wrapped.__doc__, wrapped.__name__ = handler.__doc__, handler.__name__
    return wrapped


def openai_envelope(exc: ApsaraError) -> dict[str, Any]:
    """OpenAI's error shape plus Apsara's envelope fields (`field`, `code`) at the top, so
    scripts that read Apsara errors read these too."""
    return {**openai_error(exc), "success": False, "code": exc.code, "field": exc.field}


async def _body(request: Request) -> dict[str, Any]:
    """The JSON body, checked like every Apsara body (deps.read_json: NaN, depth, huge
    numbers, lone surrogates) but with OpenAI's extra fields tolerated."""
    raw = await read_body(request)
    try:
        data = json.loads(raw or b"{}", parse_constant=refuse_constant)
    except RecursionError:
        raise ValidationError("Body is nested too deeply", field="body") from None
    except ValueError:
        raise ValidationError("Body is not valid JSON", field="body") from None
    if not isinstance(data, dict):
        raise ValidationError("Body must be a JSON object", field="body")
    check_tree(data)
    if data.get("stream") is not None and not isinstance(data["stream"], bool):
        raise ValidationError("stream must be true or false", field="stream")
    if not isinstance(data.get("stream_options") or {}, dict):
        raise ValidationError("stream_options must be an object", field="stream_options")
    conversation = data.get("conversation")
    if conversation is not None and not isinstance(conversation, str):
        raise ValidationError("conversation must be a conversation id", field="conversation")
    if not isinstance(data.get("model"), str):
        raise ValidationError("model is required (see GET /v1/models)", field="model")
    return data


def _events(request: Request, body: dict[str, Any], actor: Any) -> AsyncGenerator[ChatEvent, None]:
    chat = core_of(request).chat
    config = openai_config(body)
    conversation = body.get("conversation") or request.headers.get(CONVERSATION_HEADER)
    if conversation is None:
        return chat.stream_stateless(
            actor=actor, messages=body.get("messages"), model=body["model"], config=config
        )
    from apsara_core.services.chat_stateless import parse_messages

    _, turns = parse_messages(body.get("messages"), core_of(request).settings.max_message_chars)
    return chat.stream(
        actor=actor,
        conversation_id=conversation,
        text=turns[-1].text,
        model=body["model"],
        config=config,
    )


def _completion_id(data: dict[str, Any]) -> str:
    return f"chatcmpl-{data.get('modelMessageId') or uuid.uuid4().hex}"


def _usage(meta: dict[str, Any]) -> dict[str, Any]:
    out = meta["candidatesTokenCount"] + meta["thoughtsTokenCount"]
    return {
        "prompt_tokens": meta["promptTokenCount"],
        "completion_tokens": out,
        "total_tokens": meta["promptTokenCount"] + out,
        "completion_tokens_details": {"reasoning_tokens": meta["thoughtsTokenCount"]},
    }


def _apsara(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "conversationId": data.get("conversationId"),
        "modelMessageId": data.get("modelMessageId"),
        "provider": data["modelMetadata"]["provider"],
    }


def completion(data: dict[str, Any], created: int) -> dict[str, Any]:
    """A chat.completion from the "done" response."""
    message: dict[str, Any] = {"role": "assistant", "content": data["text"]}
    if data.get("thoughts"):
        message["reasoning_content"] = data["thoughts"]
    finish = data["modelMetadata"]["finishReason"]
    return {
        "id": _completion_id(data),
        "object": "chat.completion",
        "created": created,
        "model": data["modelMetadata"]["model"],
        "choices": [{"index": 0, "message": message, "finish_reason": FINISH.get(finish, "stop")}],
        "usage": _usage(data["usageMetadata"]),
        "apsara": _apsara(data),
    }


@_openai_errors
async def chat_completions(request: Request) -> Response:
    """Chat completion (OpenAI-compatible), streamed as chat.completion.chunk events when
    `stream` is true."""
    actor = await require_actor(request)
    body = await _body(request)
    created = int(core_of(request).clock.now().timestamp())
    events = _events(request, body, actor)
    if not body.get("stream"):
        return JSONResponse(completion(await collect(events), created))
    first = await anext(events)  # errors before the stream starts keep their HTTP status
    usage = bool((body.get("stream_options") or {}).get("include_usage"))
    return ChunkStream(events, first, body["model"], created, usage)


class ChunkStream(StreamingResponse):
    """Chat events as OpenAI chunks: role, reasoning_content and content deltas, the finish
    chunk, the usage chunk when asked, then `data: [DONE]`; a failure after the start is a
    `data: {"error": ...}` event (the SDK raises it). The events are always closed."""

    def __init__(
        self,
        events: AsyncIterator[ChatEvent],
        first: ChatEvent,
        model: str,
        created: int,
        usage: bool,
    ) -> None:
        self.events, self.model, self.created, self.usage = events, model, created, usage
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        super().__init__(
            self._body(first),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    def _chunk(self, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        body = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [choice],
            **extra,
        }
        return _sse(body)

    async def _body(self, first: ChatEvent) -> AsyncIterator[bytes]:
        yield self._chunk({"role": "assistant", "content": ""})
        try:
            async for event in self.events:
                if event.kind == "thought":
                    yield self._chunk({"reasoning_content": event.text})
                elif event.kind == "text":
                    yield self._chunk({"content": event.text})
                elif event.kind == "error":
                    yield _sse({"error": {**event.data, "type": "apsara_error"}})
                    return
                elif event.kind == "done":
                    yield self._done(event.data)
            yield b"data: [DONE]\n\n"
        except ApsaraError:
            return  # already sent as the error event
        except Exception:
            log.exception("OpenAI-compatible stream failed")

    def _done(self, data: dict[str, Any]) -> bytes:
        finish = FINISH.get(data["modelMetadata"]["finishReason"], "stop")
        out = self._chunk({}, finish, apsara=_apsara(data))
        if self.usage:
            usage = _usage(data["usageMetadata"])
            out += _sse(
                {
                    "id": self.id,
                    "object": "chat.completion.chunk",
                    "created": self.created,
                    "model": self.model,
                    "choices": [],
                    "usage": usage,
                }
            )
        return out

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.events.aclose()  # type: ignore[attr-defined]


def _sse(body: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(body, ensure_ascii=False, default=str)}\n\n".encode()


@_openai_errors
async def list_models(request: Request) -> Response:
    """The models the caller's plan allows (OpenAI-compatible list)."""
    actor = await require_actor(request)
    core = core_of(request)
    plan = await core.plans.get(name=actor.plan)
    models = await core.provider_catalog.allowed_models(limits=effective_models(plan))
    data = [
        {"id": m["id"], "object": "model", "created": 0, "owned_by": m["provider"]} for m in models
    ]
    return JSONResponse({"object": "list", "data": data})


ROUTES = [
    Route("/chat/completions", documented(chat_completions, CHAT_DOC), methods=["POST"]),
    Route("/models", documented(list_models, MODELS_DOC), methods=["GET"]),
]
