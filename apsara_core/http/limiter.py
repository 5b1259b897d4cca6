"""Request limiting for every API call (RATE_LIMIT_WINDOW_MS / RATE_LIMIT_MAX_REQUESTS).

A pure ASGI middleware, so streamed responses pass through untouched. The counter lives in
the database: several `apsara serve` processes share one limit per caller.
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from apsara_core.errors import ApsaraError

EXEMPT = {"/api/health", "/api/openapi.json"}


class RequestLimitMiddleware:
    """Counts each request of a caller (its address) and refuses past the limit with 429."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT:
            await self.app(scope, receive, send)
            return
        core = scope["app"].state.core
        client = scope.get("client")
        try:
            decision = await core.request_limiter.check(
                key=f"ip:{client[0] if client else 'unknown'}"
            )
        except ApsaraError as exc:
            await JSONResponse(exc.to_dict(), status_code=exc.http_status)(scope, receive, send)
            return
        extra = [(k.lower().encode(), v.encode()) for k, v in decision.headers().items()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
