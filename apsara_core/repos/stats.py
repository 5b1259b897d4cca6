"""Aggregations behind the statistics (every `$match` starts with an indexed field)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from apsara_core.repos.usage import DAILY_FIELDS

DAY_FORMAT = {"$dateToString": {"format": "%Y-%m-%d", "date": "$createdAt"}}
USAGE_SUMS = {name: {"$sum": f"${name}"} for name in DAILY_FIELDS}


async def _aggregate(db: AsyncDatabase, coll: str, pipeline: list[dict[str, Any]]) -> list[dict]:
    return await (await db[coll].aggregate(pipeline)).to_list(None)


async def count_by(
    db: AsyncDatabase, coll: str, field: str, match: dict[str, Any] | None = None
) -> dict[str, int]:
    """Documents of `coll` (matching `match`) counted by the value of `field`."""
    rows = await _aggregate(
        db, coll, [{"$match": match or {}}, {"$group": {"_id": f"${field}", "n": {"$sum": 1}}}]
    )
    return {str(r["_id"]): r["n"] for r in rows}


async def per_day(db: AsyncDatabase, coll: str, match: dict[str, Any]) -> dict[str, int]:
    """Documents of `coll` matching `match` counted per UTC day of `createdAt`."""
    rows = await _aggregate(
        db, coll, [{"$match": match}, {"$group": {"_id": DAY_FORMAT, "n": {"$sum": 1}}}]
    )
    return {r["_id"]: r["n"] for r in rows}


async def usage_by(db: AsyncDatabase, group: str, match: dict[str, Any]) -> list[dict[str, Any]]:
    """usage_daily sums (messages, tokens, refusals, refunds) grouped by `group`."""
    return await _aggregate(
        db, "usage_daily", [{"$match": match}, {"$group": {"_id": f"${group}", **USAGE_SUMS}}]
    )


async def refused_of(
    db: AsyncDatabase, user_ids: list[str], dates: dict[str, Any]
) -> dict[str, int]:
    """Refusals of each of `user_ids` in the `dates` range of `date_range`: one `$in` read
    of their usage_daily (the index's first field alone; the dates are checked here)."""
    if not user_ids:
        return {}
    low, high = dates["date"]["$gte"], dates["date"]["$lte"]
    out: dict[str, int] = {}
    found = db.usage_daily.find(
        {"userId": {"$in": user_ids}}, {"userId": 1, "date": 1, "refused": 1}
    )
    for row in await found.to_list(None):
        if low <= str(row.get("date")) <= high:
            out[row["userId"]] = out.get(row["userId"], 0) + int(row.get("refused", 0))
    return out


async def conversations_of(db: AsyncDatabase, user_id: str) -> list[dict[str, Any]]:
    """A user's conversations: id, title, stats, dates."""
    return await db.conversations.find(
        {"userId": user_id}, {"_id": 0, "conversationId": 1, "title": 1, "stats": 1, "updatedAt": 1}
    ).to_list(None)


async def count(db: AsyncDatabase, coll: str) -> int:
    """Documents in `coll` (from collection metadata)."""
    return await db[coll].estimated_document_count()


def date_range(since: str, until: str) -> dict[str, Any]:
    """usage_daily dates from `since` to `until` ("YYYY-MM-DD"), excluding lifetime counters."""
    return {"$gte": since, "$lte": until}


def created_since(since: datetime) -> dict[str, Any]:
    """A `createdAt` range from `since`."""
    return {"createdAt": {"$gte": since}}
