"""Bulk writes of `apsara db seed` (services/seed.py)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase


async def has_real_users(db: AsyncDatabase) -> bool:
    """Whether any account was not written by a seed."""
    return await db.users.find_one({"seeded": {"$ne": True}}, {"_id": 1}) is not None


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
    """Add the seeded usage history and per-user totals (upserts, so a second seed adds up)."""
    for coll, ops in (
        (
            "usage_daily",
            [_add(key, doc, ("userId", "date", "model")) for key, doc in daily.items()],
        ),
        ("user_usage", [_totals(uid, inc, now) for uid, inc in totals.items()]),
    ):
        for start in range(0, len(ops), 1000):
            await db[coll].bulk_write(ops[start : start + 1000], ordered=False)


def _add(key: str, doc: Mapping[str, Any], fixed: tuple[str, ...]) -> UpdateOne:
    inc = {k: v for k, v in doc.items() if k not in fixed}
    on_insert = {k: doc[k] for k in fixed}
    return UpdateOne({"_id": key}, {"$inc": inc, "$setOnInsert": on_insert}, upsert=True)


def _totals(user_id: str, inc: Mapping[str, int], now: datetime) -> UpdateOne:
    return UpdateOne(
        {"_id": user_id},
        {
            "$inc": {f"totalUsage.{k}": v for k, v in inc.items()},
            "$set": {"lastActivity": now},
            "$setOnInsert": {"userId": user_id},
        },
        upsert=True,
    )
