"""Queries on `audit`: who changed what, when, before and after."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from apsara_core.repos.common import newest_first


async def add(db: AsyncDatabase, entry: dict[str, Any], session: Any = None) -> None:
    """Store one audit entry (inside the caller's transaction when given)."""
    await db.audit.insert_one(entry, session=session)


async def latest(
    db: AsyncDatabase,
    *,
    target_id: str | None,
    action: str | None,
    limit: int,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """The newest entries, optionally for one target and/or one action."""
    query: dict[str, Any] = {}
    if target_id:
        query["targetId"] = target_id
    if action:
        query["action"] = action
    if now is not None:  # windows on (targetId, at), (action, at) or at (`newest_first`)
        return await newest_first(db.audit, query, "at", now=now, skip=0, limit=limit)
    cursor = db.audit.find(query).sort([("at", DESCENDING), ("_id", DESCENDING)])
    return await cursor.limit(limit).to_list()
