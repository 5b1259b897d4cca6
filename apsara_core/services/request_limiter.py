"""Per-caller HTTP request limiter: a fixed window per key, stored in the database.

Settings: RATE_LIMIT_WINDOW_MS (default 900000 = 15 minutes) and RATE_LIMIT_MAX_REQUESTS
(default 100). Every process reaches the same counter, so several `apsara serve` workers
share one limit. Windows are aligned to multiples of the window length since the epoch;
old windows expire through the TTL index on `expiresAt`: one window length and a minute
after the window's first request, by the real clock (see repos/ttl.py), so after its end.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pymongo.asynchronous.database import AsyncDatabase

from apsara_core.clock import Clock
from apsara_core.config import Settings
from apsara_core.errors import RateLimitError, ValidationError
from apsara_core.repos import request_limits as repo
from apsara_core.repos import ttl

MAX_KEY_LENGTH = 200
EXPIRY_GRACE = timedelta(seconds=60)


@dataclass(frozen=True)
class Decision:
    """The limiter's answer for one request."""

    allowed: bool
    limit: int
    remaining: int
    reset_at: datetime

    def headers(self) -> dict[str, str]:
        """The usual `X-RateLimit-*` response headers (reset as epoch seconds)."""
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(int(self.reset_at.timestamp())),
        }


class RequestLimiter:
    """`hit(key=...)` counts a request and says whether it may proceed.

    `window_ms`, `max_requests` come from the settings; windows are read from `clock`.
    """

    def __init__(self, *, db: AsyncDatabase, settings: Settings, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        self.window_ms: int = settings.rate_limit_window_ms
        self.max_requests: int = settings.rate_limit_max_requests

    def _window(self) -> tuple[int, datetime]:
        now_ms = int(self._clock.now().timestamp() * 1000)
        start = now_ms - now_ms % self.window_ms
        return start, datetime.fromtimestamp((start + self.window_ms) / 1000, UTC)

    async def hit(self, *, key: str) -> Decision:
        """Count one request of caller `key` (e.g. "ip:1.2.3.4" or "user:<id>").

        Raises:
            ValidationError: an empty, non-string or over-long key.
        """
        _, standing = await self.take(key=key)
        return await standing()

    async def take(self, *, key: str) -> tuple[bool, Callable[[], Awaitable[Decision]]]:
        """Count one request of caller `key`: whether it may proceed, and the read of the
        caller's standing after it (the Decision of `hit`), for a caller that can read it
        while the request is served (the HTTP middleware: it only feeds `X-RateLimit-*`).

        Raises:
            ValidationError: an empty, non-string or over-long key.
        """
        if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
            raise ValidationError(
                f"The caller key must be 1-{MAX_KEY_LENGTH} characters", field="key"
            )
        window, reset = self._window()
        # A window ends at most one length after its first request. Counted from the real
        # time of that request, the expiry holds whatever `now` says (a test's clock may lie
        # in the past, or stand still for up to a window).
        expires = ttl.expires_in(timedelta(milliseconds=self.window_ms) + EXPIRY_GRACE)
        allowed = await repo.take(
            self._db, key=key, window=window, limit=self.max_requests, expires_at=expires
        )

        async def standing() -> Decision:
            used = await repo.count(self._db, key=key, window=window)
            return Decision(allowed, self.max_requests, max(0, self.max_requests - used), reset)

        return allowed, standing

    async def peek(self, *, key: str) -> Decision:
        """The caller's standing in this window, without counting a request."""
        window, reset = self._window()
        used = await repo.count(self._db, key=key, window=window)
        return Decision(True, self.max_requests, max(0, self.max_requests - used), reset)

    def refusal(self, decision: Decision) -> RateLimitError:
        """The error for a refused request (reset_time = window end, usage = the window)."""
        return RateLimitError(
            f"Too many requests: at most {self.max_requests} per {self.window_ms // 1000} s",
            code="TOO_MANY_REQUESTS",
            suggestions=[f"Try again after {decision.reset_at:%H:%M:%S} UTC"],
            reset_time=decision.reset_at,
            usage_info={
                "scope": "requests",
                "limit": decision.limit,
                "remaining": decision.remaining,
                "windowMs": self.window_ms,
            },
        )

    async def check(self, *, key: str) -> Decision:
        """Like `hit`, but raise when the request is refused.

        Raises:
            RateLimitError: too many requests in this window (see `refusal`).
        """
        decision = await self.hit(key=key)
        if not decision.allowed:
            raise self.refusal(decision)
        return decision
