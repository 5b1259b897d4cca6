"""Every error leaves as the JSON envelope; no stack trace reaches a client.

ApsaraErrors and Starlette's own HTTP errors are rendered by exception handlers. Anything else
(a bug) is caught by `CatchAllMiddleware`, not by a handler for `Exception`: Starlette runs such
a handler in its ServerErrorMiddleware, which re-raises after sending the response, and uvicorn
then closes the connection, so the client's next request on it failed with ECONNRESET.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from apsara_core.errors import ApsaraError
from apsara_core.http.deps import jsonable

log = logging.getLogger("apsara.http")
INTERNAL = {
    "success": False,
    "error": "Internal error",
    "details": "An unexpected error occurred; it has been logged.",
    "code": "INTERNAL_ERROR",
    "suggestions": [],
}


async def apsara_error(request: Request, exc: Exception) -> JSONResponse:
    """Render an ApsaraError with its status and code.

    A refusal made before the body was read in full (see deps.read_body) closes the
    connection: the rest of the body is never read, so the connection cannot serve another
    request.
    """
    assert isinstance(exc, ApsaraError)
    close = getattr(request.state, "close_connection", False)
    return JSONResponse(
        jsonable(exc.to_dict()),
        status_code=exc.http_status,
        headers={"Connection": "close"} if close else None,
    )


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    """Render Starlette's own errors (404 route, 405 method) in the same envelope."""
    assert isinstance(exc, HTTPException)
    code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
    return JSONResponse(
        {
            "success": False,
            "error": str(exc.detail),
            "details": str(exc.detail),
            "code": code,
            "suggestions": ["See /api/openapi.json for the endpoints"],
        },
        status_code=exc.status_code,
    )


class CatchAllMiddleware:
    """Outermost of our middleware: an unexpected exception is logged and answered with the
    INTERNAL_ERROR envelope (500), and goes no further, so the connection stays usable.

    When the response had already started (a stream broke), nothing can be added: the
    exception is logged and the response left incomplete, which makes the server close the
    connection, as it must.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
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
