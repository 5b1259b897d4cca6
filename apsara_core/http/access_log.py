"""One access-log line per request, and the request id echoed in X-Request-ID.

The line names the request id, method, path (never the query string), status, duration in
ms, the actor's id (None before sign-in) and the worker's pid; never a token, key or password. Plain text by
default, one JSON object per line with `apsara serve --log-format json`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import uuid
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from apsara_core.http.asgi import HttpMiddleware

log = logging.getLogger("apsara.access")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class JsonFormatter(logging.Formatter):
    """A log record as one JSON object (its `fields` when it has them)."""

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", None) or {"message": record.getMessage()}
        return json.dumps({"level": record.levelname.lower(), **fields}, default=str)


class TextFormatter(logging.Formatter):
    """A log record as `key=value` pairs."""

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", None)
        if not fields:
            return record.getMessage()
        return " ".join(f"{k}={v}" for k, v in fields.items())


def configure(fmt: str = "text") -> None:
    """Send the access log to stderr, as text or JSON (idempotent)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False


def request_id(scope: Scope) -> str:
    """The client's X-Request-ID when it is a sane token, else a fresh one."""
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            if _SAFE_ID.match(text):
                return text
    return uuid.uuid4().hex


class AccessLogMiddleware(HttpMiddleware):
    """Outermost middleware: tags the request with its id, logs one line when it ends."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one HTTP request."""
        rid, started, status = request_id(scope), time.perf_counter(), 500
        scope.setdefault("state", {})["request_id"] = rid

        async def tagged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", []), (b"x-request-id", rid.encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, tagged)
        finally:
            log.info("request", extra={"fields": _fields(scope, rid, status, started)})


def _fields(scope: Scope, rid: str, status: int, started: float) -> dict[str, Any]:
    actor = scope.get("state", {}).get("actor")
    return {
        "requestId": rid,
        "method": scope["method"],
        "path": scope["path"],
        "status": status,
        "durationMs": round((time.perf_counter() - started) * 1000, 2),
        "actorId": getattr(actor, "user_id", None),
        "pid": os.getpid(),
    }
