"""Every error leaves as the JSON envelope; no stack trace reaches a client."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from apsara_core.errors import ApsaraError

log = logging.getLogger("apsara.http")


async def apsara_error(request: Request, exc: Exception) -> JSONResponse:
    """Render an ApsaraError with its status and code."""
    assert isinstance(exc, ApsaraError)
    return JSONResponse(exc.to_dict(), status_code=exc.http_status)


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    """Render Starlette's own errors (404 route, 405 method) in the same envelope."""
    assert isinstance(exc, HTTPException)
    code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
    return JSONResponse({"success": False, "error": str(exc.detail), "details": str(exc.detail),
                         "code": code, "suggestions": ["See /api/openapi.json for the endpoints"]},
                        status_code=exc.status_code)


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    """Log the bug; tell the client only that it happened."""
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse({"success": False, "error": "Internal error",
                         "details": "An unexpected error occurred; it has been logged.",
                         "code": "INTERNAL_ERROR", "suggestions": []}, status_code=500)


HANDLERS = {ApsaraError: apsara_error, HTTPException: http_error, Exception: unexpected_error}
