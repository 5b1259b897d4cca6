"""Bulk writes of `apsara db seed` (services/seed.py)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from apsara_core.repos import ranks


async def has_real_users(db: AsyncDatabase) -> bool:
    """Whether any account was not written by a seed."""
    return await db.users.find_one({"seeded": {"$ne": True}}, {"_id": 1}) is not None


BULK = ("users", "conversations", "messages", "usage_daily")  # what a seed writes in bulk


async def is_fresh(db: AsyncDatabase) -> bool:
    """Whether none of the collections a seed fills holds a document yet."""
    for name in BULK:
        if await db[name].find_one({}, {"_id": 1}) is not None:
            return False
    return True


async def drop_secondary_indexes(db: AsyncDatabase) -> None:
    """Drop the secondary indexes of the bulk collections (a fresh database's seed builds
    them after its inserts), first marking the schema as unchecked, so that the next start
    creates them again should the seed not finish (`ensure_schema`)."""
    await db.meta.update_one({"_id": "schema"}, {"$set": {"fingerprint": "seeding"}})
    for name in BULK:
        await db[name].drop_indexes()


async def insert_batch(db: AsyncDatabase, collection: str, docs: list[dict[str, Any]]) -> None:
    """One unordered bulk insert (the server may apply it in any order)."""
    await db[collection].insert_many(docs, ordered=False)


async def write_usage(
    db: AsyncDatabase,
    daily: Mapping[str, Mapping[str, Any]],
    totals: Mapping[str, Mapping[str, int]],
    *,
    now: datetime,
) -> None:
    """Add the seeded usage history and per-user totals with their ranking entries (upserts,
    so a second seed adds up)."""
    first = ranks.window_start(now.date().isoformat())
    days: dict[str, dict[str, tuple[int, int]]] = {}
    for doc in daily.values():
        if doc["date"] >= first and doc.get("committed"):
            per_day = days.setdefault(doc["userId"], {})
            n, t = per_day.get(doc["date"], (0, 0))
            per_day[doc["date"]] = (n + doc["committed"], t + doc.get("totalTokens", 0))
    for coll, ops in (
        (
            "usage_daily",
            [_add(key, doc, ("userId", "date", "model")) for key, doc in daily.items()],
        ),
        (
            "user_usage",
            [_totals(uid, inc, now, days.get(uid, {})) for uid, inc in totals.items()],
        ),
    ):
        for start in range(0, len(ops), 1000):
            await db[coll].bulk_write(ops[start : start + 1000], ordered=False)


def _add(key: str, doc: Mapping[str, Any], fixed: tuple[str, ...]) -> UpdateOne:
    inc = {k: v for k, v in doc.items() if k not in fixed}
    on_insert = {k: doc[k] for k in fixed}
    return UpdateOne({"_id": key}, {"$inc": inc, "$setOnInsert": on_insert}, upsert=True)


def _totals(
    user_id: str, inc: Mapping[str, int], now: datetime, days: dict[str, tuple[int, int]]
) -> UpdateOne:
    return UpdateOne(
        {"_id": user_id},
        {
            "$inc": {f"totalUsage.{k}": v for k, v in inc.items()},
            "$set": {"lastActivity": now, "ranks": ranks.ranks_of(days)},
            "$setOnInsert": {"userId": user_id},
        },
        upsert=True,
    )
