"""Queries on `login_attempts`: one document per normalised email, whether or not an account
uses it, so an unknown address locks exactly like a real one.

`_id` is the email; `count` is the number of attempt slots taken since the last success or
lock (a slot is taken BEFORE the password is checked, so attempts still being checked count);
`lockedUntil` is in the past (the epoch) unless the address is locked. Every change is one
conditional update on `_id`, never read-then-write, so any number of processes share one
count. Documents expire a day after the last attempt (TTL on `expiresAt`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from apsara_core.repos import counters

NOT_LOCKED = datetime(1970, 1, 1, tzinfo=UTC)
FORGET_AFTER = timedelta(days=1)


async def take_slot(db: AsyncDatabase, email: str, *, limit: int, now: datetime) -> bool:
    """Take one of the `limit` password checks this address may have before it locks.

    False when every slot is taken (checks in flight or failed) or the address is locked.
    An expired lock needs no clearing: locking resets `count` to 0.
    """
    return await counters.take(
        db.login_attempts,
        doc_id=email,
        limit=limit,
        on_insert={"lockedUntil": NOT_LOCKED},
        condition={"lockedUntil": {"$lte": now}},
        extra={"$set": {"expiresAt": now + FORGET_AFTER}},
    )


async def lock(
    db: AsyncDatabase, email: str, *, limit: int, now: datetime, until: datetime
) -> bool:
    """Lock the address if all `limit` slots are taken and it is not locked yet.

    Resets `count` so the address has `limit` fresh slots once the lock runs out; slots still
    being checked then find nothing to count. True only for the one caller that locked.
    """
    result = await db.login_attempts.update_one(
        {"_id": email, "count": {"$gte": limit}, "lockedUntil": {"$lte": now}},
        {"$set": {"count": 0, "lockedUntil": until, "expiresAt": until + FORGET_AFTER}},
    )
    return result.modified_count == 1


async def succeed(db: AsyncDatabase, email: str, *, now: datetime) -> bool:
    """A right password: forget the address's failures, unless it locked meanwhile.

    False when the address was locked while the password was being checked (a correct
    guess inside a burst of wrong ones gets no session).
    """
    result = await db.login_attempts.delete_one({"_id": email, "lockedUntil": {"$lte": now}})
    if result.deleted_count:
        return True
    doc = await db.login_attempts.find_one({"_id": email}, {"lockedUntil": 1})
    return doc is None or doc["lockedUntil"] <= now  # None: unlocked by an admin meanwhile


async def clear(db: AsyncDatabase, email: str, session: AsyncClientSession | None = None) -> None:
    """Forget the address's attempts and lock (an admin unlock)."""
    await db.login_attempts.delete_one({"_id": email}, session=session)
