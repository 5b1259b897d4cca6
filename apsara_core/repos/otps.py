"""Queries on `otps`: hashed one-time codes, send counters and reset tokens.

Documents: codes `{_id: "code:<purpose>:<email>"}` (one live code per email and purpose, so
a new code replaces the previous one), send counters `{_id: "sends:<purpose>:<email>"}` and
reset tokens `{_id: "reset:<token hash>"}`. All carry `expiresAt` (TTL index).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError


def code_id(email: str, purpose: str) -> str:
    """The id of the live code for this email and purpose."""
    return f"code:{purpose}:{email}"


async def put_code(
    db: AsyncDatabase, email: str, purpose: str, code_hash: str, now: datetime, ttl: timedelta
) -> None:
    """Store a new code, replacing (voiding) any previous one of the same purpose."""
    await db.otps.replace_one(
        {"_id": code_id(email, purpose)},
        {
            "email": email,
            "purpose": purpose,
            "codeHash": code_hash,
            "attempts": 0,
            "createdAt": now,
            "expiresAt": now + ttl,
        },
        upsert=True,
    )


async def take_attempt(
    db: AsyncDatabase, email: str, purpose: str, now: datetime, max_attempts: int
) -> dict[str, Any] | None:
    """Count one try on the live code; None when there is no live code (or it is used up)."""
    return await db.otps.find_one_and_update(
        {
            "_id": code_id(email, purpose),
            "expiresAt": {"$gt": now},
            "attempts": {"$lt": max_attempts},
        },
        {"$inc": {"attempts": 1}},
        return_document=ReturnDocument.AFTER,
    )


async def consume_code(db: AsyncDatabase, email: str, purpose: str, code_hash: str) -> bool:
    """Delete the code if it is still this one; True for exactly one caller."""
    result = await db.otps.delete_one({"_id": code_id(email, purpose), "codeHash": code_hash})
    return result.deleted_count == 1


async def kill_code(db: AsyncDatabase, email: str, purpose: str) -> None:
    """Remove the live code (too many wrong tries)."""
    await db.otps.delete_one({"_id": code_id(email, purpose)})


async def take_send(
    db: AsyncDatabase,
    email: str,
    purpose: str,
    now: datetime,
    *,
    gap: timedelta,
    window: timedelta,
    per_window: int,
) -> bool:
    """Count one mail of this purpose to `email`: False within `gap` of the last one or
    over `per_window` in the current window. Each branch is one conditional write."""
    key = f"sends:{purpose}:{email}"
    same = await db.otps.update_one(
        {
            "_id": key,
            "windowStart": {"$gt": now - window},
            "count": {"$lt": per_window},
            "lastSentAt": {"$lte": now - gap},
        },
        {"$inc": {"count": 1}, "$set": {"lastSentAt": now}},
    )
    if same.modified_count:
        return True
    fresh = await db.otps.update_one(
        {"_id": key, "windowStart": {"$lte": now - window}, "lastSentAt": {"$lte": now - gap}},
        {"$set": {"windowStart": now, "count": 1, "lastSentAt": now, "expiresAt": now + window}},
    )
    if fresh.modified_count:
        return True
    try:
        await db.otps.insert_one(
            {
                "_id": key,
                "email": email,
                "purpose": f"sends:{purpose}",
                "windowStart": now,
                "count": 1,
                "lastSentAt": now,
                "expiresAt": now + window,
            }
        )
    except DuplicateKeyError:
        return False
    return True


async def sends_reset_at(
    db: AsyncDatabase,
    email: str,
    purpose: str,
    *,
    gap: timedelta,
    window: timedelta,
    per_window: int,
) -> datetime | None:
    """When the next mail of this purpose may be sent (for the error message)."""
    doc = await db.otps.find_one({"_id": f"sends:{purpose}:{email}"})
    if doc is None:
        return None
    if doc["count"] >= per_window:
        return doc["windowStart"] + window
    return doc["lastSentAt"] + gap


async def put_reset_token(
    db: AsyncDatabase, token_hash: str, user_id: str, email: str, now: datetime, ttl: timedelta
) -> None:
    """Store a reset token (by its hash) for one user."""
    await db.otps.insert_one(
        {
            "_id": f"reset:{token_hash}",
            "email": email,
            "purpose": "reset_token",
            "userId": user_id,
            "createdAt": now,
            "expiresAt": now + ttl,
        }
    )


async def take_reset_token(
    db: AsyncDatabase, token_hash: str, now: datetime
) -> dict[str, Any] | None:
    """Consume a live reset token atomically: exactly one caller gets the document."""
    return await db.otps.find_one_and_delete(
        {"_id": f"reset:{token_hash}", "expiresAt": {"$gt": now}}
    )


async def drop_reset_tokens(db: AsyncDatabase, email: str) -> None:
    """Void every outstanding reset token of this email (a new one was issued)."""
    await db.otps.delete_many({"email": email, "purpose": "reset_token"})
