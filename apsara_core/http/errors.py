"""Every error leaves as the JSON envelope; no stack trace reaches a client.

ApsaraErrors and Starlette's own HTTP errors are rendered by exception handlers. Anything else
(a bug) is caught by `CatchAllMiddleware`, not by a handler for `Exception`: Starlette runs such
a handler in its ServerErrorMiddleware, which re-raises after sending the response, and uvicorn
then closes the connection, so the client's next request on it failed with ECONNRESET.
"""

from __future__ import annotations

import logging
import math
import re
from datetime import datetime
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route, compile_path
from starlette.types import Message, Receive, Scope, Send

from apsara_core.errors import ApsaraError, RateLimitError, http_suggestions
from apsara_core.http.asgi import HttpMiddleware
from apsara_core.jsonable import jsonable

log = logging.getLogger("apsara.http")
INTERNAL = {
    "success": False,
    "error": "Internal error",
    "details": "An unexpected error occurred; it has been logged.",
    "code": "INTERNAL_ERROR",
    "suggestions": [],
}
NO_RESET_RETRY = 24 * 3600


def retry_after(exc: ApsaraError, now: datetime) -> int | None:
    """Seconds for Retry-After: until the limit's reset, or the error's own delay; every 429
    and 423 gets one (a lifetime allowance that never resets answers a day)."""
    if isinstance(exc, RateLimitError) and exc.reset_time is not None:
        return max(1, math.ceil((exc.reset_time - now).total_seconds()))
    if exc.retry_after is not None:
        return exc.retry_after
    return NO_RESET_RETRY if exc.http_status in (423, 429) else None


def envelope(exc: ApsaraError, fields: dict[str, str] | None = None) -> dict[str, Any]:
    """The error's JSON envelope as the HTTP API shows it: suggestions in their HTTP form,
    and `field` (and the words of the message) in the request's own names (`fields` maps
    the core's name to the route's, e.g. text -> contents)."""
    body = jsonable(exc.to_dict())
    body["suggestions"] = http_suggestions(exc.suggestions)
    for inner, outer in (fields or {}).items():
        word = re.compile(rf"(?<![\w.]){re.escape(inner)}(?=\b|\[)")
        if isinstance(body.get("field"), str):
            body["field"] = word.sub(outer, body["field"], count=1)
        for key in ("details",):
            if isinstance(body.get(key), str):
                body[key] = word.sub(outer, body[key])
    return body


def error_headers(exc: ApsaraError, now: datetime) -> dict[str, str]:
    """Retry-After on 429 and 423, WWW-Authenticate on 401."""
    headers: dict[str, str] = {}
    delay = retry_after(exc, now)
    if delay is not None:
        headers["Retry-After"] = str(delay)
    if exc.http_status == 401:
        error = "invalid_token" if exc.code in ("INVALID_TOKEN", "API_KEY_INVALID") else None
        headers["WWW-Authenticate"] = 'Bearer realm="apsara"' + (
            f', error="{error}"' if error else ""
        )
    return headers


def render(exc: ApsaraError, now: datetime, fields: dict[str, str] | None = None) -> JSONResponse:
    """The response for an ApsaraError: its status, envelope and honest headers."""
    return JSONResponse(
        envelope(exc, fields), status_code=exc.http_status, headers=error_headers(exc, now)
    )


async def apsara_error(request: Request, exc: Exception) -> JSONResponse:
    """Render an ApsaraError with its status and code.

    A refusal made before the body was read in full (see deps.read_body) closes the
    connection: the rest of the body is never read, so the connection cannot serve another
    request.
    """
    assert isinstance(exc, ApsaraError)
    response = render(
        exc, request.app.state.core.clock.now(), getattr(request.state, "fields", None)
    )
    if getattr(request.state, "close_connection", False):
        response.headers["Connection"] = "close"
    return response


async def http_error(request: Request, exc: Exception) -> Response:
    """Render Starlette's own errors (404 route, 405 method) in the same envelope; a 405
    names in Allow every method the path answers, and OPTIONS on a known path is 204 with it."""
    assert isinstance(exc, HTTPException)
    code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request.app, request.url.path))
        if request.method == "OPTIONS":  # a plain OPTIONS (not a CORS preflight) is answered
            return Response(status_code=204, headers=headers)
    return JSONResponse(
        {
            "success": False,
            "error": str(exc.detail),
            "details": str(exc.detail),
            "code": code,
            "suggestions": ["See /api/openapi.json for the endpoints"],
        },
        status_code=exc.status_code,
        headers=headers,
    )


def allowed_methods(app: Any, path: str) -> list[str]:
    """Every method some route answers at `path` (OPTIONS included: CORS preflight)."""
    methods: set[str] = set()
    for pattern, route_methods in _route_table(app):
        if pattern.match(path):
            methods |= route_methods
    return sorted(methods | {"OPTIONS"})


def _route_table(app: Any) -> list[tuple[re.Pattern[str], set[str]]]:
    table = getattr(app.state, "route_table", None)
    if table is None:
        table = [
            (compile_path(path)[0], set(route.methods or ()))
            for path, route in walk(list(app.routes), "")
        ]
        app.state.route_table = table
    return table


def walk(routes: list[BaseRoute], prefix: str) -> list[tuple[str, Route]]:
    """(full path, route) of every Route, through Mounts."""
    found: list[tuple[str, Route]] = []
    for route in routes:
        if isinstance(route, Mount):
            found += walk(list(route.routes), prefix + route.path)
        elif isinstance(route, Route):
            found.append((prefix + route.path, route))
    return found


class CatchAllMiddleware(HttpMiddleware):
    """Outermost of our middleware: an unexpected exception is logged and answered with the
    INTERNAL_ERROR envelope (500), and goes no further, so the connection stays usable.

    When the response had already started (a stream broke), nothing can be added: the
    exception is logged and the response left incomplete, which makes the server close the
    connection, as it must.
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one HTTP request."""
        started = False

        async def watching(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watching)
        except ClientDisconnect:
            return  # the client left while sending its body: nobody to answer, not a bug
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await JSONResponse(INTERNAL, status_code=500)(scope, receive, send)


HANDLERS = {ApsaraError: apsara_error, HTTPException: http_error}
