"""Queries on `request_limits`: one counter per (caller key, fixed window)."""

from __future__ import annotations

from datetime import datetime

from pymongo.asynchronous.database import AsyncDatabase

from apsara_core.repos import counters


def window_id(key: str, window: int) -> str:
    """The `_id` of the counter of `key` in the window starting at `window` (ms)."""
    return f"{key}|{window}"


async def take(
    db: AsyncDatabase, *, key: str, window: int, limit: int, expires_at: datetime
) -> bool:
    """Count one request of `key` in `window` if fewer than `limit` were counted."""
    return await counters.take(
        db.request_limits,
        doc_id=window_id(key, window),
        limit=limit,
        on_insert={"key": key, "window": window, "expiresAt": expires_at},
    )


async def count(db: AsyncDatabase, *, key: str, window: int) -> int:
    """Requests of `key` counted in `window` so far."""
    doc = await db.request_limits.find_one({"_id": window_id(key, window)}, {"count": 1})
    return int(doc["count"]) if doc else 0
