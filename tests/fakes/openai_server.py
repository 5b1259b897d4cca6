"""Wire-level fake of an OpenAI-compatible server (Chat Completions, Embeddings, Models).

The real `openai` SDK reaches it with ``AsyncOpenAI(base_url=fake.base_url, api_key="k")``.
Streams are server-sent events ``data: {json}`` + blank line, ending with ``data: [DONE]``.
A model whose id contains "think" or "r1" streams ``reasoning_content`` deltas first (as vLLM,
DeepSeek and Ollama do). With ``stream_options.include_usage`` a last chunk with empty choices
carries the usage. Errors are ``{"error": {"message", "type", "param", "code"}}``.

Faults (``fake.script(...)`` or the ``x-fake-fault`` header): any 4xx/5xx code (429 comes with
``Retry-After: 1`` and ``retry-after-ms: 5``), cut:K (drop the connection after K text chunks),
error_event:K (a ``data: {"error": ...}`` event after K chunks), nofinish:K (end after K chunks
without a finish_reason), stall:MS (sleep before the second chunk), ok. The key "wrong" is a
401; no key at all is a 401 unless the fake is built with ``require_key=False`` (Ollama).
Models containing "missing" are a 404.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.echo import Echo, answer, text_of, vector
from tests.fakes.serving import ConnectionCut, ScriptedFaults, ThreadedServer, pause

ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "model_not_found"),
    429: ("rate_limit_exceeded", "rate_limit_exceeded"),
}


def error(status: int, message: str | None = None) -> JSONResponse:
    """An OpenAI-style error response (429 with Retry-After)."""
    kind, code = ERROR_TYPES.get(status, ("server_error", None))
    body = {
        "error": {
            "message": message or f"Fake OpenAI error {status}",
            "type": kind,
            "param": None,
            "code": code,
        }
    }
    # retry-after-ms keeps the SDK retries of tests short (429 also says Retry-After: 1)
    headers = {"retry-after": "1", "retry-after-ms": "5"} if status == 429 else None
    if status >= 500:
        headers = {"retry-after-ms": "5"}
    return JSONResponse(body, status_code=status, headers=headers)


def _thinks(model: str) -> bool:
    return "think" in model or "r1" in model


def _echo(body: dict[str, Any]) -> Echo:
    messages = body.get("messages") or []
    system = next((text_of(m.get("content")) for m in messages if m.get("role") == "system"), None)
    turns = [m for m in messages if m.get("role") in ("user", "assistant", "tool")]
    last = text_of(turns[-1].get("content")) if turns else ""
    words = sum(len(text_of(m.get("content")).split()) for m in messages)
    return answer(last, len(turns), system, words, _thinks(str(body.get("model"))))


def _usage(echo: Echo) -> dict[str, Any]:
    out = echo.output_tokens + echo.thought_tokens
    return {
        "prompt_tokens": echo.prompt_tokens,
        "completion_tokens": out,
        "total_tokens": echo.prompt_tokens + out,
        "completion_tokens_details": {"reasoning_tokens": echo.thought_tokens},
    }


def _tool_calls(echo: Echo) -> list[dict[str, Any]]:
    return [
        {
            "index": i,
            "id": f"call_{i + 1}",
            "type": "function",
            "function": {"name": name, "arguments": json.dumps(args)},
        }
        for i, (name, args) in enumerate(echo.calls)
    ]


def _chunk(rid: str, model: str, delta: dict[str, Any], finish: str | None = None) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
    body = {
        "id": rid,
        "object": "chat.completion.chunk",
        "created": 1,
        "model": model,
        "choices": [choice],
    }
    return sse(body)


def sse(body: Any) -> bytes:
    """One server-sent event."""
    return f"data: {json.dumps(body)}\n\n".encode()


async def _events(
    echo: Echo, body: dict[str, Any], fault: tuple[str, int], pieces: int | None
) -> AsyncIterator[bytes]:
    name, arg = fault
    model, rid = str(body["model"]), "chatcmpl-fake"
    yield _chunk(rid, model, {"role": "assistant", "content": ""})
    for part in Echo(echo.thoughts, "", 0).pieces() if echo.thoughts else []:
        yield _chunk(rid, model, {"reasoning_content": part})
    texts = echo.pieces(pieces) if echo.text else []
    for i, piece in enumerate(texts):
        if name in ("cut", "error_event", "nofinish") and i == arg:
            break
        if name == "stall" and i == 1:
            await pause(arg)
        yield _chunk(rid, model, {"content": piece})
    if name == "cut":
        raise ConnectionCut("fake openai cut")
    if name == "error_event":
        yield sse({"error": {"message": "The server had an error (fake)", "type": "server_error"}})
        return
    if name == "nofinish":
        return
    for call in _tool_calls(echo):
        args = call["function"]["arguments"]
        head = {**call, "function": {"name": call["function"]["name"], "arguments": ""}}
        yield _chunk(rid, model, {"tool_calls": [head]})
        yield _chunk(
            rid, model, {"tool_calls": [{"index": call["index"], "function": {"arguments": args}}]}
        )
    finish = "tool_calls" if echo.calls else "stop"
    yield _chunk(rid, model, {}, finish)
    if (body.get("stream_options") or {}).get("include_usage"):
        usage = {"id": rid, "object": "chat.completion.chunk", "created": 1, "model": model}
        yield sse({**usage, "choices": [], "usage": _usage(echo)})
    yield b"data: [DONE]\n\n"


def _completion(echo: Echo, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": echo.text or None}
    if echo.thoughts:
        message["reasoning_content"] = echo.thoughts
    if echo.calls:
        message["tool_calls"] = [
            {k: v for k, v in c.items() if k != "index"} for c in _tool_calls(echo)
        ]
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if echo.calls else "stop",
            }
        ],
        "usage": _usage(echo),
    }


def create_app(state: ScriptedFaults, require_key: bool = True) -> Starlette:
    """The Starlette app of the fake."""

    async def read(request: Request) -> tuple[dict[str, Any] | None, Response | None]:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            body = None
        with state.lock:
            state.requests.append(
                {"path": request.url.path, "body": body, "headers": dict(request.headers)}
            )
        key = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if key == "wrong" or (require_key and not key):
            return None, error(401, "Incorrect API key provided: wrong.")
        if not isinstance(body, dict):
            return None, error(400, "We could not parse the JSON body of your request.")
        model = str(body.get("model", ""))
        if "missing" in model:
            return None, error(404, f"The model `{model}` does not exist.")
        return body, None

    async def fault_response(request: Request) -> tuple[tuple[str, int], Response | None]:
        fault = state.take(request.headers.get("x-fake-fault"))
        if fault[0].isdigit():
            return fault, error(int(fault[0]))
        return fault, None

    async def chat(request: Request) -> Response:
        body, bad = await read(request)
        if bad is not None or body is None:
            return bad or error(400)
        if not body.get("messages"):
            return error(400, "'messages' is a required property")
        fault, early = await fault_response(request)
        if early is not None:
            return early
        echo = _echo(body)
        if body.get("stream"):
            pieces = int(request.headers.get("x-fake-chunks", "0")) or None
            return StreamingResponse(
                _events(echo, body, fault, pieces), media_type="text/event-stream"
            )
        return JSONResponse(_completion(echo, str(body["model"])))

    async def embeddings(request: Request) -> Response:
        body, bad = await read(request)
        if bad is not None or body is None:
            return bad or error(400)
        _, early = await fault_response(request)
        if early is not None:
            return early
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else texts or []
        dims = int(body.get("dimensions") or 8)
        data = [
            {"object": "embedding", "index": i, "embedding": vector(t, dims)}
            for i, t in enumerate(texts)
        ]
        usage = {"prompt_tokens": len(texts), "total_tokens": len(texts)}
        return JSONResponse(
            {"object": "list", "data": data, "model": body["model"], "usage": usage}
        )

    async def models(request: Request) -> Response:
        data = [{"id": "gpt-fake", "object": "model", "created": 1, "owned_by": "fake"}]
        return JSONResponse({"object": "list", "data": data})

    async def not_found(request: Request) -> Response:
        return error(404, f"Fake OpenAI has no route {request.method} {request.url.path}")

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/embeddings", embeddings, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
            Route("/{rest:path}", not_found, methods=["GET", "POST"]),
        ]
    )


class FakeOpenAI(ThreadedServer):
    """The fake OpenAI-compatible server; `base_url` ends in /v1 as the SDK expects."""

    label = "fake-openai"

    def __init__(self, require_key: bool = True) -> None:
        self.state = ScriptedFaults()
        super().__init__(create_app(self.state, require_key))

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every request: {"path", "body", "headers"}."""
        return self.state.requests

    def chat_calls(self) -> list[dict[str, Any]]:
        """The bodies of the chat completion requests."""
        return [r["body"] for r in self.requests if r["path"].endswith("/chat/completions")]

    def script(self, *faults: str) -> None:
        """Queue faults for the next calls, in order ("ok" = none)."""
        with self.state.lock:
            self.state.faults.extend(faults)

    def reset(self) -> None:
        """Clear requests and scripted faults."""
        self.state.reset()
