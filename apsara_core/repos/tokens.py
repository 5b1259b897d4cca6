"""Queries on `revoked_tokens`: jtis revoked by logout, kept until the token expires."""

from __future__ import annotations

from datetime import datetime

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError


async def revoke(
    db: AsyncDatabase, jti: str, user_id: str, expires_at: datetime, now: datetime
) -> None:
    """Record a revoked token id (idempotent)."""
    try:
        await db.revoked_tokens.insert_one(
            {"jti": jti, "userId": user_id, "revokedAt": now, "expiresAt": expires_at}
        )
    except DuplicateKeyError:
        pass


async def is_revoked(db: AsyncDatabase, jti: str) -> bool:
    """Whether this token id was revoked."""
    return await db.revoked_tokens.find_one({"jti": jti}, {"_id": 1}) is not None
