"""A reply's usage accounting, applied right after the reply is stored: off its critical path.

The reply's own transaction stores the message, its sequence and a pending record of its
accounting (`pending`). The accounting itself (the reservation's closure, the day's tallies,
the user's usage documents: `LimitsService.commit_writes`) follows in a second transaction
that also deletes the record (`apply`), so the reply's "done" does not wait for four more
writes. The record makes the follow-up durable: when a process stops in between, `sweep`
(run by every long-running front end, at start and every minute) applies what is left. The
closure's unique `_id` makes a second application impossible, whoever runs it.

Quota admission never waits for this: the unit was taken when the call was admitted.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from apsara_core.clock import wall_clock
from apsara_core.db.transactions import run_in_transaction
from apsara_core.repos import usage, writes
from apsara_core.repos.writes import Delete, Insert, Write
from apsara_core.services.limits import LimitsService, Reservation

log = logging.getLogger(__name__)

COLLECTION = "reply_accounting"
SWEEP_AFTER = timedelta(seconds=60)  # younger records may belong to a reply still settling
SWEEP_BATCH = 500


def pending(reservation: Reservation, tokens: dict[str, int], now: datetime) -> Insert:
    """The pending record of a stored reply's accounting (a write for the reply's transaction).

    `tokens` holds promptTokens, outputTokens and thoughtsTokens; `now` is the reply's time
    (the day its totals and ranking count in).
    """
    return Insert(
        COLLECTION,
        {
            "_id": reservation.id,
            "userId": reservation.user_id,
            "model": reservation.model,
            "day": reservation.day.isoformat(),
            "guest": reservation.guest,
            "counter": reservation.counter,
            "tokens": tokens,
            "at": now,
            "since": wall_clock(),  # the sweep's grace is by the real clock (repos/ttl.py)
        },
    )


def _reservation(record: dict[str, Any]) -> Reservation:
    return Reservation(
        record["userId"],
        record["model"],
        date.fromisoformat(record["day"]),
        bool(record["guest"]),
        record["_id"],
        record.get("counter", ""),
    )


def _writes(limits: LimitsService, record: dict[str, Any]) -> list[Write]:
    """The record's deletion (first: it tells whether the record was still there), then the
    writes that commit its reservation with its tokens, at the reply's time."""
    tokens = record["tokens"]
    return [Delete(COLLECTION, {"_id": record["_id"]})] + limits.commit_writes(
        _reservation(record),
        prompt_tokens=tokens.get("promptTokens", 0),
        output_tokens=tokens.get("outputTokens", 0),
        thoughts_tokens=tokens.get("thoughtsTokens", 0),
        now=record["at"],
    )


async def apply(db: AsyncDatabase, limits: LimitsService, record: dict[str, Any]) -> bool:
    """Apply one pending record's accounting and delete the record, in one transaction.

    Returns:
        True when this call applied it; False when it was applied already (by another
        process's sweep, or earlier): the record is then only deleted.
    """
    batch = _writes(limits, record)

    async def work(session: Any) -> bool:
        return (await writes.apply(db, batch, session=session))[0] == 1

    for attempt in range(3):
        try:
            return await run_in_transaction(db, work)
        except DuplicateKeyError:  # closed already, or a racing first-of-day upsert
            if await usage.is_closed(db, record["_id"]):
                await db[COLLECTION].delete_one({"_id": record["_id"]})
                return False
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def apply_many(
    db: AsyncDatabase, limits: LimitsService, records: list[dict[str, Any]]
) -> int:
    """Apply several pending records (of one user) and delete them, in one transaction; when
    one of them was applied already (its closure exists) or a first-of-day upsert raced,
    each is applied on its own instead (`apply`).

    Returns:
        How many records this call applied.
    """
    if len(records) == 1:
        return int(await apply(db, limits, records[0]))
    batch = [write for record in records for write in _writes(limits, record)]

    async def work(session: Any) -> int:
        await writes.apply(db, batch, session=session)
        return len(records)

    try:
        return await run_in_transaction(db, work)
    except DuplicateKeyError:
        return sum([await apply(db, limits, record) for record in records])


async def sweep(
    db: AsyncDatabase, limits: LimitsService, *, older_than: timedelta = SWEEP_AFTER
) -> int:
    """Apply the records left `older_than` ago or earlier (a process stopped before its
    follow-up ran), at most SWEEP_BATCH per call.

    Returns:
        How many records this call applied.
    """
    cutoff = wall_clock() - older_than
    applied = 0
    async for record in db[COLLECTION].find({"since": {"$lt": cutoff}}).limit(SWEEP_BATCH):
        try:
            applied += await apply(db, limits, record)
        except Exception as exc:  # the next sweep tries again
            log.warning("applying reply accounting %s: %s", record["_id"], exc)
    return applied
