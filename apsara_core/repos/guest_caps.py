"""Queries on `guest_caps`: new guest accounts counted per client address and UTC day."""

from __future__ import annotations

from datetime import datetime

from pymongo.asynchronous.database import AsyncDatabase

from apsara_core.repos import counters


def cap_id(address: str, day: str) -> str:
    """The `_id` of the counter of `address` on `day` ("YYYY-MM-DD")."""
    return f"{address}|{day}"


async def take(
    db: AsyncDatabase, *, address: str, day: str, limit: int, expires_at: datetime
) -> bool:
    """Count one new guest account from `address` today if fewer than `limit` were counted."""
    return await counters.take(
        db.guest_caps,
        doc_id=cap_id(address, day),
        limit=limit,
        on_insert={"address": address, "day": day, "expiresAt": expires_at},
    )
