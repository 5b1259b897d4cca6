"""The "most active users" ranking kept at write time (repos/ranks.py), on the real embedded
server: the commits keep it, `stats db` reads it, and it agrees with aggregating usage_daily."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring

from apsara_core.core import Core
from apsara_core.db.migrations import fill_ranks
from apsara_core.models import Principal
from apsara_core.repos import ranks, writes
from apsara_core.repos.writes import Update
from tests.factories import create_user, principal_of

NOW = datetime(2026, 9, 15, 12, 0, tzinfo=UTC)
OPERATOR = Principal.operator()
FLASH = "gemini-2.5-flash"


async def commit(
    core: Core, user: dict[str, Any], n: int, when: datetime, output: int = 20
) -> None:
    """`n` committed calls of `user` at `when`, through the limits service."""
    core.clock.set(when)
    for _ in range(n):
        r = await core.limits.reserve(actor=principal_of(user), model=FLASH)
        await core.limits.commit(r, prompt_tokens=10, output_tokens=output, thoughts_tokens=0)


async def top(core: Core, days: int) -> list[tuple[str, int, int]]:
    data = await core.stats.database(actor=OPERATOR, days=days)
    return [(u["email"], u["messages"], u["tokens"]) for u in data["mostActiveUsers"]]


@pytest.fixture
async def people(core: Core) -> dict[str, dict[str, Any]]:
    core.clock.set(NOW)
    made = {}
    for name in ("ann", "bob", "cy"):
        made[name] = await create_user(core, f"{name}@example.com", plan="premium")
    await commit(core, made["ann"], 3, NOW)
    await commit(core, made["bob"], 5, NOW - timedelta(days=20))
    await commit(core, made["cy"], 1, NOW, output=90)
    await commit(core, made["cy"], 2, NOW - timedelta(days=2))
    core.clock.set(NOW)
    return made


async def test_the_ranking_follows_the_commits_and_the_period(core: Core, people) -> None:
    assert await top(core, 30) == [
        ("bob@example.com", 5, 150),
        ("cy@example.com", 3, 160),  # as many replies as ann: more tokens ranks first
        ("ann@example.com", 3, 90),
    ]
    assert await top(core, 7) == [("cy@example.com", 3, 160), ("ann@example.com", 3, 90)]
    assert await top(core, 1) == [("ann@example.com", 3, 90), ("cy@example.com", 1, 100)]
    assert await top(core, 31) == await top(core, 30)  # beyond the window: the aggregation
    stored = await core.db.user_usage.find_one({"_id": people["cy"]["_id"]})
    assert sorted(stored["ranks"]["days"], key=lambda e: e["d"]) == [  # in write order
        {"d": "2026-09-13", "n": 2, "t": 60},
        {"d": "2026-09-15", "n": 1, "t": 100},
    ]
    assert stored["ranks"]["score"] == 3 * ranks.SCALE + 160
    assert stored["totalUsage"]["totalMessages"] == 3  # the totals are kept by the same write


async def test_days_leave_the_window_with_the_next_write_and_the_read_corrects_stale_ones(
    core: Core, people
) -> None:
    later = NOW + timedelta(days=25)
    await commit(core, people["ann"], 1, later)
    core.clock.set(later)
    ann = await core.db.user_usage.find_one({"_id": people["ann"]["_id"]})
    assert [e["d"] for e in ann["ranks"]["days"]] == ["2026-09-15", "2026-10-10"]
    # bob's stored score still counts 2026-08-26 (no write since): the read ranks the period
    assert await top(core, 30) == [
        ("ann@example.com", 4, 120),
        ("cy@example.com", 3, 160),
    ]
    core.clock.set(NOW + timedelta(days=70))
    assert await top(core, 30) == []


class Finds(monitoring.CommandListener):
    """Records the filter of every `find` on user_usage."""

    def __init__(self) -> None:
        self.filters: list[dict[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find" and event.command["find"] == "user_usage":
            self.filters.append(dict(event.command["filter"]))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def test_the_next_read_starts_at_the_stored_threshold(core: Core, mongo_uri: str) -> None:
    core.clock.set(NOW)
    users = [await create_user(core, f"u{i:02d}@example.com") for i in range(12)]
    for i, user in enumerate(users):
        await commit(core, user, 1 + i % 4, NOW, output=10 + i)
    first = await top(core, 30)
    assert len(first) == 10 and first[0] == ("u11@example.com", 4, 4 * 31)
    threshold = await core.db.tallies.find_one({"_id": "ranks|30"})
    assert threshold["t"] == 1 * ranks.SCALE + 28  # the 10th: u08, 1 reply of 28 tokens
    assert await top(core, 30) == first
    listener = Finds()
    client: AsyncMongoClient = AsyncMongoClient(
        mongo_uri, event_listeners=[listener], tz_aware=True, retryWrites=False
    )
    try:
        again = await ranks.top(client[core.db.name], first="2026-08-17", days=30, limit=10)
    finally:
        await client.close()
    assert [(r["messages"], r["tokens"]) for r in again] == [(m, t) for _, m, t in first]
    commands = listener.filters
    assert commands == [{"ranks.score": {"$gte": threshold["t"]}}]  # one window


async def test_the_migration_fills_the_ranking_from_usage_daily(core: Core, people) -> None:
    before = await top(core, 30)
    await core.db.user_usage.update_many({}, {"$unset": {"ranks": ""}})
    await core.db.tallies.delete_many({"_id": {"$regex": "^ranks"}})
    assert await top(core, 30) == []
    await fill_ranks(core.db)
    assert await top(core, 30) == before


@pytest.mark.parametrize("bulk", [False, True])
async def test_the_commit_pipeline_runs_as_a_single_and_as_a_bulk_write(
    core: Core, bulk: bool
) -> None:
    if bulk and not writes.bulk_capable(core.db):
        pytest.skip("this server has no client bulkWrite")
    for day in ("2026-09-01", "2026-09-01", "2026-09-02"):
        pipeline = ranks.commit_pipeline("u1", {"totalMessages": 1, "totalTokens": 7}, NOW, day)
        await writes.apply(
            core.db, [Update("user_usage", {"_id": "u1"}, pipeline, True)], session=None, bulk=bulk
        )
    doc = await core.db.user_usage.find_one({"_id": "u1"})
    assert doc["userId"] == "u1" and doc["totalUsage"] == {"totalMessages": 3, "totalTokens": 21}
    assert doc["ranks"]["days"] == [
        {"d": "2026-09-01", "n": 2, "t": 14},
        {"d": "2026-09-02", "n": 1, "t": 7},
    ]
