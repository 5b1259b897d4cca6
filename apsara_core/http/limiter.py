"""Request limiting for every API call (RATE_LIMIT_WINDOW_MS / RATE_LIMIT_MAX_REQUESTS).

A pure ASGI middleware, so streamed responses pass through untouched. The counter lives in
the database: several `apsara serve` processes share one limit per caller. Every response
carries the caller's `X-RateLimit-*` headers, refusals included; health, the OpenAPI document
and the docs page are not counted (their headers show the standing without counting).
"""

from __future__ import annotations

import asyncio
import logging

from pymongo.errors import PyMongoError
from starlette.responses import JSONResponse
from starlette.types import Message, Receive, Scope, Send

from apsara_core.errors import ApsaraError, DatabaseUnavailableError
from apsara_core.http.asgi import HttpMiddleware
from apsara_core.http.deps import prefetch_actor
from apsara_core.http.errors import INTERNAL, render

EXEMPT_PREFIXES = ("/api/health", "/api/openapi.json", "/api/docs")
log = logging.getLogger("apsara.http")


class RequestLimitMiddleware(HttpMiddleware):
    """Counts each request of a caller (its address) and refuses past the limit with 429."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one HTTP request."""
        core = scope["app"].state.core
        client = scope.get("client")
        key = f"ip:{client[0] if client else 'unknown'}"
        exempt = scope["path"].startswith(EXEMPT_PREFIXES) or scope["method"] == "OPTIONS"
        try:
            if exempt:
                decision = await core.request_limiter.peek(key=key)
            else:  # the caller's token is verified meanwhile (read-only; see prefetch_actor)
                decision, _ = await asyncio.gather(
                    core.request_limiter.hit(key=key), prefetch_actor(scope)
                )
        except Exception as exc:
            if exempt:  # health answers for itself (503 when the database is down)
                await self.app(scope, receive, send)
                return
            if isinstance(exc, PyMongoError):
                exc = DatabaseUnavailableError("The database is unreachable")
            if not isinstance(exc, ApsaraError):
                log.exception("request limiter failed")
                await JSONResponse(INTERNAL, status_code=500)(scope, receive, send)
                return
            await render(exc, core.clock.now())(scope, receive, send)
            return
        extra = [(k.lower().encode(), v.encode()) for k, v in decision.headers().items()]
        if not decision.allowed:
            refusal = render(core.request_limiter.refusal(decision), core.clock.now())
            refusal.raw_headers += extra
            await refusal(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
