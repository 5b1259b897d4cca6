"""RequestLimiter: a fixed window per caller key, exact under concurrency, shared by cores."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from apsara_core.core import Core, open_core
from apsara_core.errors import RateLimitError, ValidationError

T0 = datetime(2026, 8, 1, 10, 0, 0, tzinfo=UTC)


def configure(
    core: Core, *, window_ms: int = 60_000, max_requests: int = 5, when: datetime = T0
) -> None:
    limiter = core.request_limiter
    limiter.window_ms, limiter.max_requests = window_ms, max_requests
    core.clock.set(when)


async def test_defaults_come_from_the_settings(core: Core) -> None:
    assert core.request_limiter.window_ms == 900_000
    assert core.request_limiter.max_requests == 100


async def test_concurrent_hits_admit_exactly_the_maximum(core: Core) -> None:
    configure(core, max_requests=10)
    decisions = await asyncio.gather(
        *(core.request_limiter.hit(key="ip:1.2.3.4") for _ in range(60))
    )
    assert sum(d.allowed for d in decisions) == 10
    assert all(d.reset_at == datetime(2026, 8, 1, 10, 1, tzinfo=UTC) for d in decisions)
    assert all(d.remaining == 0 for d in decisions if not d.allowed)
    doc = await core.db.request_limits.find_one({"key": "ip:1.2.3.4"})
    assert doc["count"] == 10 and doc["window"] == int(T0.timestamp() * 1000)


async def test_a_window_counted_under_a_past_clock_expires_by_the_real_clock(core: Core) -> None:
    """The server's TTL monitor compares `expiresAt` with its real clock. Derived from a
    replaced clock in the past, the window was deleted at the next sweep (every 60 s) and
    counting started over mid-window: 20 admitted of 10 under load."""
    configure(core, max_requests=10, when=datetime(2020, 1, 1, 10, tzinfo=UTC))
    before = datetime.now(UTC)
    await core.request_limiter.hit(key="past")
    doc = await core.db.request_limits.find_one({"key": "past"})
    life = timedelta(seconds=60 + 60)  # one 60 s window from the first request, plus a minute
    assert before + life - timedelta(milliseconds=1) <= doc["expiresAt"]
    assert doc["expiresAt"] <= datetime.now(UTC) + life


async def test_remaining_counts_down_and_keys_are_separate(core: Core) -> None:
    configure(core, max_requests=3)
    remaining = [(await core.request_limiter.hit(key="a")).remaining for _ in range(3)]
    assert remaining == [2, 1, 0]
    assert (await core.request_limiter.hit(key="b")).allowed


async def test_a_new_window_starts_fresh(core: Core) -> None:
    configure(core, max_requests=1, when=datetime(2026, 8, 1, 10, 0, 59, 999000, tzinfo=UTC))
    assert (await core.request_limiter.hit(key="k")).allowed
    assert not (await core.request_limiter.hit(key="k")).allowed
    configure(core, max_requests=1, when=datetime(2026, 8, 1, 10, 1, 0, 1000, tzinfo=UTC))
    assert (await core.request_limiter.hit(key="k")).allowed


async def test_check_raises_429_with_reset_time_and_headers(core: Core) -> None:
    configure(core, max_requests=1)
    ok = await core.request_limiter.check(key="user:1")
    assert ok.headers() == {
        "X-RateLimit-Limit": "1",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(int(T0.timestamp()) + 60),
    }
    with pytest.raises(RateLimitError) as err:
        await core.request_limiter.check(key="user:1")
    assert err.value.http_status == 429
    assert err.value.to_dict()["resetTime"] == "2026-08-01T10:01:00Z"


async def test_two_cores_share_one_limit(core: Core, settings) -> None:
    other = await open_core(settings)
    try:
        for c in (core, other):
            configure(c, max_requests=8)
        decisions = await asyncio.gather(
            *(c.request_limiter.hit(key="shared") for c in (core, other) for _ in range(10))
        )
        assert sum(d.allowed for d in decisions) == 8
    finally:
        await other.close()


@pytest.mark.parametrize("key", ["", None, "x" * 201, {"$ne": None}])
async def test_bad_keys_are_refused(core: Core, key) -> None:
    with pytest.raises(ValidationError) as err:
        await core.request_limiter.hit(key=key)
    assert err.value.field == "key"
