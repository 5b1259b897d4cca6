"""Expiry of TTL-declared records on the embedded server, by Apsara itself.

On MongoDB the TTL indexes declared in `db/schema.py` expire documents (its TTL monitor). On
the embedded server they are created as plain indexes instead, and this sweeper deletes the
expired documents every 60 s by an indexed range. The embedded server's own TTL monitor
decodes every document of each TTL-indexed collection, expired or not, under its storage
lock, every 60 s: with closures kept 7 days, that stall grows with every message until the
whole server slows down (measured by tests/stress/soak_repro.py: stalls of 5-7.6 s a minute
at 50,000-70,000 closures, none with plain indexes; see the README).

Expiry is by the real clock, as the TTL monitor's is (`repos/ttl.py`). Several processes
sweeping one database is harmless: a delete of what is already gone deletes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from apsara_core.clock import wall_clock
from apsara_core.db.schema import COLLECTIONS

log = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 60.0  # as MongoDB's TTL monitor
BATCH = 500  # documents per delete: a long backlog never holds the server's lock for long


@dataclass(frozen=True)
class Expiry:
    """One TTL-declared index: documents of `collection` whose `field` is older than
    `seconds` before now are deleted."""

    collection: str
    field: str
    seconds: int

    def expired(self, now: datetime) -> dict[str, Any]:
        """The filter of this index's expired documents at `now` (a range on the index)."""
        return {self.field: {"$lt": now - timedelta(seconds=self.seconds)}}


EXPIRIES: list[Expiry] = [
    Expiry(coll.name, index.keys[0][0], index.ttl_seconds)
    for coll in COLLECTIONS
    for index in coll.indexes
    if index.ttl_seconds is not None
]


async def sweep(db: AsyncDatabase, *, now: datetime | None = None) -> int:
    """Delete every expired document of the TTL-declared collections once, at `now` (the
    real time by default), in batches of BATCH.

    Returns:
        How many documents were deleted.
    """
    when = now or wall_clock()
    deleted = 0
    for expiry in EXPIRIES:
        query = expiry.expired(when)
        while True:
            ids = [
                d["_id"] async for d in db[expiry.collection].find(query, {"_id": 1}).limit(BATCH)
            ]
            if not ids:
                break
            done = await db[expiry.collection].delete_many({"_id": {"$in": ids}, **query})
            deleted += done.deleted_count
            if len(ids) < BATCH:
                break
    return deleted
