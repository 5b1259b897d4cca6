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
from apsara_core.services.request_limiter import Decision

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
        standing: Decision | asyncio.Future[Decision]
        try:
            if exempt:
                standing = await core.request_limiter.peek(key=key)
            else:  # the caller's token is verified meanwhile (read-only; see prefetch_actor)
                (allowed, read), _ = await asyncio.gather(
                    core.request_limiter.take(key=key), prefetch_actor(scope)
                )
                if not allowed:
                    decision = await read()
                    refusal = render(core.request_limiter.refusal(decision), core.clock.now())
                    refusal.raw_headers += _headers(decision)
                    await refusal(scope, receive, send)
                    return
                # Admitted: the standing (X-RateLimit-*) is read while the request is served.
                standing = asyncio.ensure_future(read())
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
        try:
            await self._serve(scope, receive, send, standing)
        finally:
            if isinstance(standing, asyncio.Future):
                standing.cancel()  # a no-op once read; its failure, if any, was logged
                if standing.done() and not standing.cancelled():
                    standing.exception()

    async def _serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        decision: Decision | asyncio.Future[Decision],
    ) -> None:
        """Run the app, adding the caller's `X-RateLimit-*` headers to its response; without
        them when the standing could not be read (the request was admitted already)."""

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra: list[tuple[bytes, bytes]] = []
                try:
                    known = decision if isinstance(decision, Decision) else await decision
                    extra = _headers(known)
                except Exception:
                    log.warning("the request limiter's standing could not be read", exc_info=True)
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _headers(decision: Decision) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode(), v.encode()) for k, v in decision.headers().items()]
