"""Wire-level fake of the Anthropic Messages API (POST /v1/messages), streaming and not.

The real `anthropic` SDK reaches it with ``AsyncAnthropic(base_url=fake.origin, api_key="k")``.
A stream is named server-sent events: ``event: message_start`` … ``content_block_start`` /
``content_block_delta`` (text_delta, thinking_delta, signature_delta, input_json_delta) /
``content_block_stop`` … ``message_delta`` (stop_reason, usage) and ``message_stop``, with a
``ping`` after message_start. With ``thinking: {"type": "enabled", "budget_tokens": N}`` a
thinking block comes first, its signature derived from its text (echo.signature); a thinking
block sent back in an assistant turn must carry that signature, else a 400 (as Anthropic
answers a tampered block). ``CALL:name({json})`` yields a tool_use block (stop_reason
tool_use). Errors are ``{"type": "error", "error": {"type", "message"}}``.

Faults (``fake.script(...)`` or ``x-fake-fault``): any 4xx/5xx code (429 with Retry-After: 1
and retry-after-ms: 5; 529 overloaded_error), cut:K (drop after K text deltas), error_event:K
(an ``event: error`` overloaded_error after K deltas), nofinish:K, ok. The key "wrong" or no key
(x-api-key or a bearer token) is a 401; models containing "missing" a 404.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.echo import Echo, answer, signature, text_of
from tests.fakes.serving import ConnectionCut, ScriptedFaults, ThreadedServer

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def error(status: int, message: str | None = None) -> JSONResponse:
    """An Anthropic-style error response (429 with Retry-After)."""
    kind = ERROR_TYPES.get(status, "api_error")
    body = {"type": "error", "error": {"type": kind, "message": message or f"Fake {kind}"}}
    # retry-after-ms keeps the SDK retries of tests short (429 also says Retry-After: 1)
    headers = {"retry-after": "1", "retry-after-ms": "5"} if status == 429 else None
    if status >= 500:
        headers = {"retry-after-ms": "5"}
    return JSONResponse(body, status_code=status, headers=headers)


def event(name: str, body: dict[str, Any]) -> bytes:
    """One named server-sent event."""
    return f"event: {name}\ndata: {json.dumps({'type': name, **body})}\n\n".encode()


def _replayed_thinking_ok(messages: list[dict[str, Any]]) -> bool:
    """Every thinking block sent back carries the signature the fake gave it."""
    for m in messages:
        for block in m.get("content") if isinstance(m.get("content"), list) else []:
            if block.get("type") == "thinking" and block.get("signature") != signature(
                block.get("thinking", "")
            ):
                return False
    return True


def _echo(body: dict[str, Any]) -> Echo:
    messages = body.get("messages") or []
    system = body.get("system")
    system = text_of(system) if system else None
    last = text_of(messages[-1].get("content")) if messages else ""
    words = sum(len(text_of(m.get("content")).split()) for m in messages)
    think = (body.get("thinking") or {}).get("type") == "enabled"
    return answer(last, len(messages), system, words, think)


def _blocks(echo: Echo, pieces: int | None) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """(content_block_start block, its deltas) for each block of the answer."""
    out = []
    if echo.thoughts:
        deltas: list[dict[str, Any]] = [
            {"type": "thinking_delta", "thinking": p} for p in Echo(echo.thoughts, "", 0).pieces()
        ]
        deltas.append({"type": "signature_delta", "signature": signature(echo.thoughts)})
        out.append(({"type": "thinking", "thinking": "", "signature": ""}, deltas))
    if echo.text:
        deltas = [{"type": "text_delta", "text": p} for p in echo.pieces(pieces)]
        out.append(({"type": "text", "text": ""}, deltas))
    for i, (name, args) in enumerate(echo.calls):
        raw = json.dumps(args)
        half = len(raw) // 2
        deltas = [
            {"type": "input_json_delta", "partial_json": raw[:half]},
            {"type": "input_json_delta", "partial_json": raw[half:]},
        ]
        out.append(
            ({"type": "tool_use", "id": f"toolu_{i + 1}", "name": name, "input": {}}, deltas)
        )
    return out


def _usage(echo: Echo) -> dict[str, int]:
    return {
        "input_tokens": echo.prompt_tokens,
        "output_tokens": echo.output_tokens + echo.thought_tokens,
    }


async def _events(
    echo: Echo, model: str, fault: tuple[str, int], pieces: int | None
) -> AsyncIterator[bytes]:
    name, arg = fault
    message = {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": echo.prompt_tokens, "output_tokens": 1},
    }
    yield event("message_start", {"message": message})
    yield event("ping", {})
    texts = 0
    for index, (block, deltas) in enumerate(_blocks(echo, pieces)):
        yield event("content_block_start", {"index": index, "content_block": block})
        for delta in deltas:
            if delta["type"] == "text_delta":
                if name in ("cut", "error_event", "nofinish") and texts == arg:
                    if name == "cut":
                        raise ConnectionCut("fake anthropic cut")
                    if name == "error_event":
                        err = {"type": "overloaded_error", "message": "Overloaded (fake)"}
                        yield event("error", {"error": err})
                    return
                texts += 1
            yield event("content_block_delta", {"index": index, "delta": delta})
        yield event("content_block_stop", {"index": index})
    stop = "tool_use" if echo.calls else "end_turn"
    delta = {"stop_reason": stop, "stop_sequence": None}
    yield event(
        "message_delta", {"delta": delta, "usage": {"output_tokens": _usage(echo)["output_tokens"]}}
    )
    yield event("message_stop", {})


def _message(echo: Echo, model: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if echo.thoughts:
        content.append(
            {"type": "thinking", "thinking": echo.thoughts, "signature": signature(echo.thoughts)}
        )
    if echo.text:
        content.append({"type": "text", "text": echo.text})
    for i, (name, args) in enumerate(echo.calls):
        content.append({"type": "tool_use", "id": f"toolu_{i + 1}", "name": name, "input": args})
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "tool_use" if echo.calls else "end_turn",
        "stop_sequence": None,
        "usage": _usage(echo),
    }


def create_app(state: ScriptedFaults) -> Starlette:
    """The Starlette app of the fake."""

    async def messages(request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            body = None
        with state.lock:
            state.requests.append(
                {"path": request.url.path, "body": body, "headers": dict(request.headers)}
            )
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        key = request.headers.get("x-api-key", "") or bearer  # SDK 2.x sends a bearer token
        if not key or key == "wrong":
            return error(401, "invalid x-api-key")
        if not isinstance(body, dict) or not body.get("messages") or not body.get("max_tokens"):
            return error(400, "messages and max_tokens: Field required")
        model = str(body.get("model", ""))
        if "missing" in model:
            return error(404, f"model: {model}")
        if not _replayed_thinking_ok(body["messages"]):
            return error(400, "messages.1.content.0: Invalid `signature` in `thinking` block")
        fault = state.take(request.headers.get("x-fake-fault"))
        if fault[0].isdigit():
            return error(int(fault[0]))
        echo = _echo(body)
        if body.get("stream"):
            pieces = int(request.headers.get("x-fake-chunks", "0")) or None
            return StreamingResponse(
                _events(echo, model, fault, pieces), media_type="text/event-stream"
            )
        return JSONResponse(_message(echo, model))

    async def not_found(request: Request) -> Response:
        return error(404, f"Fake Anthropic has no route {request.method} {request.url.path}")

    return Starlette(
        routes=[
            Route("/v1/messages", messages, methods=["POST"]),
            Route("/{rest:path}", not_found, methods=["GET", "POST"]),
        ]
    )


class FakeAnthropic(ThreadedServer):
    """The fake Anthropic API; the SDK's base_url is `origin` (it adds /v1/messages)."""

    label = "fake-anthropic"

    def __init__(self) -> None:
        self.state = ScriptedFaults()
        super().__init__(create_app(self.state))

    @property
    def base_url(self) -> str:
        return self.origin

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every request: {"path", "body", "headers"}."""
        return self.state.requests

    def calls(self) -> list[dict[str, Any]]:
        """The bodies of the /v1/messages requests."""
        return [r["body"] for r in self.requests if r["path"] == "/v1/messages"]

    def script(self, *faults: str) -> None:
        """Queue faults for the next calls, in order ("ok" = none)."""
        with self.state.lock:
            self.state.faults.extend(faults)

    def reset(self) -> None:
        """Clear requests and scripted faults."""
        self.state.reset()
