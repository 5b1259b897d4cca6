"""repos.writes: one bulk write or one command per write, with the same outcome either way."""

from __future__ import annotations

import asyncio

import pytest
from pymongo.errors import DuplicateKeyError

from apsara_core.db.transactions import run_in_transaction
from apsara_core.repos import writes
from apsara_core.repos.writes import Insert, Update

MODES = [pytest.param(True, id="bulkWrite"), pytest.param(False, id="one-command-each")]


def test_the_embedded_server_takes_client_bulk_writes(core):
    assert writes.bulk_capable(core.db)


@pytest.mark.parametrize("bulk", MODES)
async def test_results_count_matches_inserts_and_upserts(core, bulk):
    await core.db.w.insert_one({"_id": "a", "n": 0})

    async def work(session):
        return await writes.apply(
            core.db,
            [
                Update("w", {"_id": "a"}, {"$inc": {"n": 1}}),
                Update("w", {"_id": "missing"}, {"$inc": {"n": 1}}),
                Update("w", {"_id": "b"}, {"$inc": {"n": 5}}, upsert=True),
                Insert("other", {"_id": 1, "x": "y"}),
            ],
            session=session,
            bulk=bulk,
        )

    assert await run_in_transaction(core.db, work) == [1, 0, 1, 1]
    assert {d["_id"]: d["n"] async for d in core.db.w.find()} == {"a": 1, "b": 5}
    assert await core.db.other.count_documents({}) == 1


@pytest.mark.parametrize("bulk", MODES)
async def test_a_duplicate_key_aborts_the_whole_transaction(core, bulk):
    await core.db.w.insert_one({"_id": "taken"})

    async def work(session):
        await writes.apply(
            core.db,
            [
                Update("w", {"_id": "counter"}, {"$inc": {"n": 1}}, upsert=True),
                Insert("other", {"_id": 1}),
                Insert("w", {"_id": "taken"}),
                Insert("other", {"_id": 2}),
            ],
            session=session,
            bulk=bulk,
        )

    with pytest.raises(DuplicateKeyError):
        await run_in_transaction(core.db, work)
    assert await core.db.w.count_documents({}) == 1  # nothing half-written
    assert await core.db.other.count_documents({}) == 0


@pytest.mark.parametrize("bulk", MODES)
async def test_conflicting_transactions_are_retried_until_each_lands(core, bulk):
    """20 transactions on one document conflict; every one lands exactly once (a retried
    transaction's first command is a bulk write, which must be accepted)."""
    await core.db.w.insert_one({"_id": "hot", "n": 0})

    async def one(i: int) -> None:
        async def work(session):
            await writes.apply(
                core.db,
                [Update("w", {"_id": "hot"}, {"$inc": {"n": 1}}), Insert("other", {"_id": i})],
                session=session,
                bulk=bulk,
            )

        await run_in_transaction(core.db, work)

    await asyncio.gather(*(one(i) for i in range(20)))
    assert (await core.db.w.find_one({"_id": "hot"}))["n"] == 20
    assert await core.db.other.count_documents({}) == 20


async def test_no_writes_sends_nothing(core):
    assert await writes.apply(core.db, [], session=None) == []
