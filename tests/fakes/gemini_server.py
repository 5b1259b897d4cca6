"""Wire-level fake of the Gemini Developer API for tests and benchmarks.

The real google-genai SDK reaches it with::

    with FakeGemini() as fake:
        client = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=fake.base_url))

Answers are deterministic (see gemini_payloads.py): the reply is
``[sys:<40 chars>] Echo: <last user text> (turns=N)``; ``CALL:name({json})`` in
the last user text yields functionCall parts instead, and a functionResponse
part reads as ``name -> {json}`` so a tool loop ends with a text answer.
Faults are chosen per generate/stream/embed call by ``FakeGemini.script()``
(a non-empty queue wins over the header) or the ``x-fake-fault`` header:
any 4xx/5xx code, flaky:N (or flaky:N:tag for a separate counter), cut:K,
nofinish:K, error_event:K, blocked, safety_finish, max_tokens (the stream ends with
finishReason MAX_TOKENS), slow:MS, stall:MS, notjson, ok. Auth and model checks run first and do not consume a scripted fault.
Other headers: ``x-fake-chunks: N`` (text events per stream) and
``x-fake-chunk-delay-ms: D`` (sleep between stream events).

Models are accepted when their id starts with "gemini", "text-embedding" or
"embedding" and does not contain "missing"; anything else is a 404 NOT_FOUND.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes import gemini_payloads as P
from tests.fakes.gemini_files import file_routes
from tests.fakes.serving import ConnectionCut, ThreadedServer

VERSIONS = {"v1", "v1beta", "v1alpha"}
MODEL_PREFIXES = ("gemini", "text-embedding", "embedding")
TRUNCATING = {"cut", "nofinish", "error_event"}
NOT_JSON_BODY = "<html><body>502 Bad Gateway (fake: not json)</body></html>"


class FakeState:
    """Everything the app remembers; shared between the server and test threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.files: dict[str, P.StoredFile] = {}
        self.uploads: dict[str, P.PendingUpload] = {}
        self.faults: deque[str] = deque()
        self.flaky: dict[str, int] = {}
        # Headers added to every request (e.g. x-fake-chunks) for callers that cannot send their
        # own, such as the app's provider.
        self.headers: dict[str, str] = {}
        self._ids = itertools.count(1)

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.files.clear()
            self.uploads.clear()
            self.faults.clear()
            self.flaky.clear()
            self.headers.clear()

    def log(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.requests.append(entry)

    def next_id(self) -> int:
        with self.lock:
            return next(self._ids)

    def take_fault(self, header: str | None) -> P.Fault | None:
        """Pops the scripted fault (if any), else uses the header value."""
        with self.lock:
            return P.parse_fault(self.faults.popleft() if self.faults else header, self.flaky)


def error(
    code: int,
    message: str | None = None,
    status: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """Google-style JSON error response."""
    return JSONResponse(P.error_body(code, message, status), status_code=code, headers=headers)


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _guard(request: Request) -> Response | None:
    """404 for an unknown API version, 403 (like Google) without an API key."""
    version = request.path_params["version"]
    if version not in VERSIONS:
        return error(404, f"Unknown API version {version}.")
    if not (request.headers.get("x-goog-api-key") or request.query_params.get("key")):
        return error(
            403,
            "Method doesn't allow unregistered callers (callers without established"
            " identity). Please use API Key or other form of API consumer identity"
            " to call this API.",
        )
    return None


def _cut_json(body: dict[str, Any]) -> StreamingResponse:
    """200 whose JSON body stops halfway and whose connection is then dropped."""
    text = json.dumps(body).encode()

    async def gen() -> AsyncIterator[bytes]:
        yield text[: len(text) // 2]
        raise ConnectionCut("fake cut")

    return StreamingResponse(gen(), media_type="application/json")


def create_app(state: FakeState | None = None) -> Starlette:
    """Builds the Starlette app; `app.state.fake` holds the FakeState."""
    st = state or FakeState()

    async def record(request: Request, model: str | None) -> tuple[Any, bool]:
        if request.query_params.get("upload_id"):
            body, ok = None, True
        else:
            body, ok = P.parse_json(await request.body())
        st.log(
            {
                "method": request.method,
                "path": request.url.path,
                "model": model,
                "body": body,
                "headers": dict(request.headers),
            }
        )
        return body, ok

    async def pre_fault(fault: P.Fault | None) -> Response | None:
        """Faults that replace the whole answer (or only delay it)."""
        if fault is None:
            return None
        name, arg = fault
        if name == "slow":
            await asyncio.sleep(arg / 1000)
        elif name.isdigit() and 400 <= int(name) < 600:
            return error(int(name))
        elif name == "notjson":
            return Response(NOT_JSON_BODY, status_code=200, media_type="text/html")
        return None

    def check_files(contents: list[Any]) -> Response | None:
        """403 for a fileData uri of an unknown file, 400 while it is PROCESSING."""
        for file_id in P.file_ids(contents):
            with st.lock:
                f = st.files.get(file_id)
            if f is None:
                return error(403, P.no_file_message(file_id))
            if f.state != "ACTIVE":
                return error(
                    400,
                    f"The File {f.file_id} is not in an ACTIVE state and usage is not allowed.",
                    "FAILED_PRECONDITION",
                )
        return None

    async def generate(
        request: Request, model: str, body: dict[str, Any], stream: bool
    ) -> Response:
        fault = st.take_fault(request.headers.get("x-fake-fault"))
        if (early := await pre_fault(fault)) is not None:
            return early
        name, arg = fault or ("", 0)
        prompt = P.Prompt.from_body(body)
        if (bad := check_files(prompt.contents)) is not None:
            return bad
        rid = f"fake-resp-{st.next_id()}"
        if name in ("blocked", "safety_finish"):
            maker = P.blocked_response if name == "blocked" else P.safety_finish_response
            special = maker(model, rid, prompt.prompt_tokens)
            if stream:
                return StreamingResponse(iter([P.sse(special)]), media_type="text/event-stream")
            return JSONResponse(special)
        chunks = P.to_int(request.headers.get("x-fake-chunks"), 0) or None
        ans = P.plan_answer(prompt, chunks)
        if name in TRUNCATING and not ans.calls and len(ans.pieces) < arg:
            ans = P.plan_answer(prompt, arg)
        if not stream:
            if name == "cut":
                return _cut_json(P.full_response(ans, model, rid))
            if name == "error_event":
                return error(500)
            if name == "stall":
                await asyncio.sleep(arg / 1000)
            return JSONResponse(
                P.full_response(ans, model, rid, None if name == "nofinish" else "STOP")
            )
        delay = P.to_int(request.headers.get("x-fake-chunk-delay-ms")) / 1000
        return StreamingResponse(
            _events(ans, model, rid, name, arg, delay), media_type="text/event-stream"
        )

    async def _events(
        ans: P.Answer, model: str, rid: str, name: str, arg: int, delay: float
    ) -> AsyncIterator[bytes]:
        thoughts, answer = P.stream_events(ans, model, rid)
        if name in TRUNCATING:
            answer = answer[:arg]
            if answer:  # a truncated stream never carries finishReason
                answer[-1]["candidates"][0].pop("finishReason", None)
        if name == "max_tokens" and answer:
            answer[-1]["candidates"][0]["finishReason"] = "MAX_TOKENS"
        for i, event in enumerate(thoughts + answer):
            if i and name == "stall" and i == 1:
                await asyncio.sleep(arg / 1000)
            elif i and delay:
                await asyncio.sleep(delay)
            yield P.sse(event)
        if name == "cut":
            raise ConnectionCut(f"fake cut after {arg} events")
        if name == "error_event":
            yield P.sse(
                P.error_body(500, "An internal error has occurred (fake error event).", "INTERNAL")
            )

    async def embed(request: Request, model: str, body: dict[str, Any], batch: bool) -> Response:
        fault = st.take_fault(request.headers.get("x-fake-fault"))
        if (early := await pre_fault(fault)) is not None:
            return early
        if batch:
            reqs = P.pick(body, "requests") or []
            result: dict[str, Any] = {"embeddings": [P.embed_one(r) for r in reqs]}
        else:
            result = {"embedding": P.embed_one(body)}
        if fault and fault[0] == "cut":
            return _cut_json(result)
        return JSONResponse(result)

    async def model_action(request: Request) -> Response:
        version, target = request.path_params["version"], request.path_params["target"]
        model, _, method = target.partition(":")
        body, ok = await record(request, model)
        if (denied := _guard(request)) is not None:
            return denied
        body = {} if body is None else body
        if not ok or not isinstance(body, dict):
            return error(400, "Invalid JSON payload received.")
        if not model.startswith(MODEL_PREFIXES) or "missing" in model:
            return error(
                404,
                f"models/{model} is not found for API version {version}, or is not"
                f" supported for {method}. Call ListModels to see the list of available"
                " models and their supported methods.",
            )
        if method == "generateContent":
            return await generate(request, model, body, stream=False)
        if method == "streamGenerateContent":
            return await generate(request, model, body, stream=True)
        if method in ("batchEmbedContents", "embedContent"):
            return await embed(request, model, body, batch=method == "batchEmbedContents")
        if method == "countTokens":
            inner = P.pick(body, "generateContentRequest") or body
            return JSONResponse({"totalTokens": P.Prompt.from_body(inner).prompt_tokens})
        return error(404, f"Method {method} is not implemented by the fake.")

    async def not_found(request: Request) -> Response:
        await record(request, None)
        return error(404, f"Fake Gemini has no route {request.method} {request.url.path}.")

    app = Starlette(
        routes=[
            *file_routes(st, record, error, _guard, _base_url),
            Route("/{version}/models/{target}", model_action, methods=["POST"]),
            Route("/{rest:path}", not_found, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        ]
    )
    app.state.fake = st
    return app


def _with_default_headers(app: Any, headers: dict[str, str]) -> Any:
    """ASGI wrapper adding `headers` (a live dict) to every HTTP request."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and headers:
            extra = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
            scope = {**scope, "headers": [*scope["headers"], *extra]}
        await app(scope, receive, send)

    return wrapped


class FakeGemini(ThreadedServer):
    """Runs the fake in a background thread with uvicorn on 127.0.0.1 and a free port."""

    label = "FakeGemini"

    def __init__(self) -> None:
        self.state = FakeState()
        super().__init__(_with_default_headers(create_app(self.state), self.state.headers))

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every request received: {"method", "path", "model", "body", "headers"}."""
        return self.state.requests

    @property
    def base_url(self) -> str:
        return self.origin

    @property
    def headers(self) -> dict[str, str]:
        """Headers added to every request until `reset()` (e.g. {"x-fake-chunks": "1000"})."""
        return self.state.headers

    def reset(self) -> None:
        """Clears requests, uploaded files, default headers and the scripted faults."""
        self.state.reset()

    def expire(self, name: str) -> None:
        """Expire an uploaded file now (`files/<id>` or `<id>`): from then on the API answers
        403 for it, as Google does after 48 hours."""
        file_id = name.removeprefix("files/")
        with self.state.lock:
            self.state.files.pop(file_id, None)

    def script(self, *faults: str) -> None:
        """Queues faults for the next generate/stream/embed calls, in order ("ok" = none)."""
        with self.state.lock:
            self.state.faults.extend(faults)

    def __enter__(self) -> FakeGemini:
        return self.start()
