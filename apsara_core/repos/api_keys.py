"""Queries on `api_keys`: personal API keys, stored as the SHA-256 of the key only."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

PUBLIC = {"_id": 0, "hash": 0}
TOUCH_EVERY = timedelta(minutes=1)


async def insert(db: AsyncDatabase, doc: dict[str, Any]) -> None:
    """Store a new key record."""
    await db.api_keys.insert_one(doc)


async def find_by_hash(db: AsyncDatabase, digest: str) -> dict[str, Any] | None:
    """The live (not revoked) key with this hash, or None."""
    return await db.api_keys.find_one({"hash": digest, "revokedAt": None})


async def list_for(db: AsyncDatabase, user_id: str | None) -> list[dict[str, Any]]:
    """The live keys of a user (None: everyone's), newest first, without hashes."""
    query: dict[str, Any] = {"revokedAt": None}
    if user_id is not None:
        query["userId"] = user_id
    return await db.api_keys.find(query, PUBLIC).sort("createdAt", -1).to_list()


async def find(db: AsyncDatabase, key_id: str) -> dict[str, Any] | None:
    """The live key with this id, or None."""
    return await db.api_keys.find_one({"keyId": key_id, "revokedAt": None}, PUBLIC)


async def revoke(db: AsyncDatabase, key_id: str, now: datetime) -> bool:
    """Mark a key revoked; False when it was not live."""
    result = await db.api_keys.update_one(
        {"keyId": key_id, "revokedAt": None}, {"$set": {"revokedAt": now}}
    )
    return result.modified_count == 1


async def touch(db: AsyncDatabase, key_id: str, now: datetime) -> None:
    """Record a use (at most one write a minute per key)."""
    await db.api_keys.update_one(
        {
            "keyId": key_id,
            "$or": [{"lastUsedAt": None}, {"lastUsedAt": {"$lt": now - TOUCH_EVERY}}],
        },
        {"$set": {"lastUsedAt": now}},
    )
