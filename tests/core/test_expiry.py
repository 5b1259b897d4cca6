"""On the embedded server TTL indexes are plain and Apsara's sweeper expires their documents
(db/expiry.py; the server's own TTL monitor stalls it, see tests/stress/soak_repro.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from apsara_core.config import Settings
from apsara_core.core import Core, open_core
from apsara_core.db.expiry import EXPIRIES, sweep
from apsara_core.db.schema import COLLECTIONS, ensure_schema
from apsara_core.services import upkeep
from apsara_core.services.sessions import OPERATOR

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def _ttl_indexes() -> list[tuple[str, str, int]]:
    return [
        (c.name, i.options()["name"], i.ttl_seconds)
        for c in COLLECTIONS
        for i in c.indexes
        if i.ttl_seconds is not None
    ]


async def test_the_embedded_server_holds_ttl_indexes_as_plain_ones(core: Core) -> None:
    assert core.sweep_ttl is True  # the tests' server is the embedded one
    assert {(e.collection, e.seconds) for e in EXPIRIES} == {(c, s) for c, _, s in _ttl_indexes()}
    for coll, name, _ in _ttl_indexes():
        spec = (await core.db[coll].index_information())[name]
        assert "expireAfterSeconds" not in spec, (coll, name)
    info = await core.dbinfo.info(actor=OPERATOR)
    otps = next(c for c in info["collections"] if c["name"] == "otps")
    ttl = next(i for i in otps["indexes"] if i["keys"] == {"expiresAt": 1})
    assert ttl["ttlSeconds"] == 0 and ttl["expiredBy"] == "apsara"


async def test_sweep_deletes_what_is_expired_and_only_that(core: Core) -> None:
    db = core.db
    week = timedelta(days=7)
    await db.reservation_closures.insert_many(
        [{"_id": f"old{i}", "closedAt": NOW - week - timedelta(seconds=1)} for i in range(1203)]
        + [{"_id": "new", "closedAt": NOW - week + timedelta(seconds=1)}]
    )
    await db.request_limits.insert_many(
        [
            {"_id": "k|1", "count": 1, "expiresAt": NOW - timedelta(seconds=1)},
            {"_id": "k|2", "count": 1, "expiresAt": NOW + timedelta(seconds=1)},
            {"_id": "k|3", "count": 1},  # no date: never expires, as with a TTL index
        ]
    )
    assert await sweep(db, now=NOW) == 1204  # more than one batch
    assert [d["_id"] async for d in db.reservation_closures.find()] == ["new"]
    assert sorted([d["_id"] async for d in db.request_limits.find()]) == ["k|2", "k|3"]
    assert await sweep(db, now=NOW) == 0


async def test_the_sweep_reads_by_index(core: Core) -> None:
    for expiry in EXPIRIES:
        plan = (await core.db[expiry.collection].find(expiry.expired(NOW)).explain())[
            "queryPlanner"
        ]["winningPlan"]
        assert "IXSCAN" in repr(plan), (expiry, plan)


async def test_indexes_change_kind_when_the_database_changes_server(core: Core) -> None:
    """A database from MongoDB (or an older version) has real TTL indexes: they become
    plain on the embedded server, and real again on MongoDB, by several processes at once."""
    db = core.db
    await ensure_schema(db, now=NOW, sweep_ttl=False)
    spec = (await db.otps.index_information())["expiresAt_1"]
    assert spec["expireAfterSeconds"] == 0
    await asyncio.gather(*(ensure_schema(db, now=NOW, sweep_ttl=True) for _ in range(3)))
    for coll, name, _ in _ttl_indexes():
        assert "expireAfterSeconds" not in (await db[coll].index_information())[name]


async def test_maintenance_sweeps_until_close_and_only_on_the_embedded_server(
    core: Core, settings: Settings
) -> None:
    expired = {"_id": "o", "expiresAt": datetime.now(UTC) - timedelta(1)}
    await core.db.otps.insert_one(expired)
    mongodb = asyncio.create_task(upkeep.run(core.db, core.limits, expire=False, interval=0.02))
    await asyncio.sleep(0.3)  # several rounds: MongoDB's own TTL monitor expires there
    mongodb.cancel()
    assert await core.db.otps.find_one({"_id": "o"}) is not None

    task = asyncio.create_task(upkeep.run(core.db, core.limits, expire=True, interval=0.05))
    for _ in range(100):
        if await core.db.otps.find_one({"_id": "o"}) is None:
            break
        await asyncio.sleep(0.05)
    task.cancel()
    assert await core.db.otps.find_one({"_id": "o"}) is None

    other = await open_core(settings)  # a second process's Core on the same database
    other.start_maintenance()
    running = other._maintenance
    assert running is not None and not running.done()
    await other.close()
    assert running.cancelled()
