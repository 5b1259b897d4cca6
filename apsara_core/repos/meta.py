"""Queries on `meta`: small named records kept by the application (schema version aside)."""

from __future__ import annotations

from datetime import datetime

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

PEPPER_ID = "password_pepper"


async def recorded_pepper(db: AsyncDatabase) -> str | None:
    """The id of the pepper this database's password hashes use, if one was recorded."""
    doc = await db.meta.find_one({"_id": PEPPER_ID}, {"pepperId": 1})
    return str(doc["pepperId"]) if doc else None


async def claim_pepper(db: AsyncDatabase, pepper_id: str, *, now: datetime) -> str:
    """Record `pepper_id` (at `now`) unless another one is recorded first; returns the recorded id.

    One upsert with `$setOnInsert`: of several processes writing their first hash at once,
    exactly one pepper id is kept.
    """
    try:
        await db.meta.update_one(
            {"_id": PEPPER_ID},
            {"$setOnInsert": {"pepperId": pepper_id, "recordedAt": now}},
            upsert=True,
        )
    except DuplicateKeyError:  # a parallel first claim inserted it: read what it kept
        pass
    return await recorded_pepper(db) or pepper_id
