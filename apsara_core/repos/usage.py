"""Queries on the usage collections.

- `quota_counters`: admission. `_id = "<userId>|<date>|<model>"`, `date` "YYYY-MM-DD" (UTC)
  or "total" for lifetime (guest) allowances; `count` (admitted minus refunded). Reached only
  by `_id`, so it has no secondary index and a reservation is one cheap conditional `$inc`.
- `reservation_closures`: one document per committed or refunded reservation (`_id` = its id),
  so closing a reservation twice is a no-op without growing the counter document; kept 7 days
  after `closedAt`, which is the real time of the close (see repos/ttl.py).
- `usage_daily`: per-day history for statistics, same `_id` form with a real date:
  `committed`, `refused`, `refunded`, `promptTokens`, `outputTokens`, `thoughtsTokens`,
  `totalTokens`; indexed by (userId, date, model) and (date, model).
- `user_usage`: one document per user (`_id` = userId) with `totalUsage` counters,
  `lastActivity` and the "most active users" ranking (`ranks`, indexed: repos/ranks.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from apsara_core.repos import counters, ranks, tallies, ttl
from apsara_core.repos.writes import Insert, Update, Write

TOTAL = "total"
DAILY_FIELDS = (  # the counters of a usage_daily document
    "committed",
    "refused",
    "refunded",
    "promptTokens",
    "outputTokens",
    "thoughtsTokens",
    "totalTokens",
)
Session = AsyncClientSession | None


def day_id(user_id: str, date: str, model: str) -> str:
    """The `_id` of the (user, date, model) counter or history document."""
    return f"{user_id}|{date}|{model}"


def _fields(user_id: str, date: str, model: str) -> dict[str, str]:
    return {"userId": user_id, "date": date, "model": model}


async def admit(
    db: AsyncDatabase, *, user_id: str, date: str, model: str, limit: int, reservation_id: str
) -> bool:
    """Take one unit of (user, date, model) if fewer than `limit` are taken (one atomic update).

    Returns:
        True when admitted.
    """
    return await counters.take(
        db.quota_counters,
        doc_id=day_id(user_id, date, model),
        limit=limit,
        on_insert=_fields(user_id, date, model),
    )


def close_writes(
    *,
    user_id: str,
    counter_date: str,
    day: str,
    model: str,
    reservation_id: str,
    tokens: dict[str, int] | None,
    now: datetime,
    counter_model: str | None = None,
) -> list[Write]:
    """The writes that close a reservation: refund when `tokens` is None, else commit them.

    `counter_model` names the admission counter when it is not the model's own (a group's).

    The closure record's unique `_id` makes a second close fail (DuplicateKeyError) inside the
    same transaction as the rest, so a unit is never given back or counted twice. A refund
    returns the unit to the admission counter; both record the day's history, and a commit
    adds the tokens to the user's totals.
    """
    closure = {"_id": reservation_id, "closedAt": ttl.wall_clock()}  # TTL: not `now`
    writes: list[Write] = [Insert("reservation_closures", closure)]
    if tokens is None:
        writes.append(
            Update(
                "quota_counters",
                {"_id": day_id(user_id, counter_date, counter_model or model)},
                {"$inc": {"count": -1}},
            )
        )
    history = {"refunded": 1} if tokens is None else {"committed": 1, **tokens}
    writes.append(
        Update("tallies", {"_id": tallies.usage_key(day, model, user_id)}, {"$inc": history}, True)
    )
    writes.append(
        Update(
            "usage_daily",
            {"_id": day_id(user_id, day, model)},
            {"$inc": history, "$setOnInsert": _fields(user_id, day, model)},
            upsert=True,
        )
    )
    if tokens is not None:  # one pipeline: the totals and the day's ranking entry
        inc = {"totalMessages": 1, **tokens}
        writes.append(
            Update(
                "user_usage",
                {"_id": user_id},
                ranks.commit_pipeline(user_id, inc, now, day),
                upsert=True,
            )
        )
    return writes


async def is_closed(db: AsyncDatabase, reservation_id: str, *, session: Session = None) -> bool:
    """Whether a reservation was committed or refunded."""
    found = await db.reservation_closures.find_one(
        {"_id": reservation_id}, {"_id": 1}, session=session
    )
    return found is not None


async def counts(db: AsyncDatabase, *, doc_ids: list[str]) -> dict[str, int]:
    """`count` of each existing counter among `doc_ids`."""
    docs = await db.quota_counters.find({"_id": {"$in": doc_ids}}, {"count": 1}).to_list(None)
    return {d["_id"]: int(d.get("count", 0)) for d in docs}


async def bump(
    db: AsyncDatabase,
    *,
    user_id: str,
    date: str,
    model: str,
    inc: dict[str, int],
    session: Session = None,
) -> None:
    """Add `inc` to the history of (user, date, model), creating it when missing.

    Raises:
        DuplicateKeyError: inside a transaction, when a racing first write created the
            document; the caller retries the transaction.
    """
    key = {"_id": day_id(user_id, date, model)}
    whole = Update(
        "tallies", {"_id": tallies.usage_key(date, model, user_id)}, {"$inc": inc}, upsert=True
    )
    await tallies.apply(db, [whole], session=session)
    try:
        await db.usage_daily.update_one(
            key,
            {"$inc": inc, "$setOnInsert": _fields(user_id, date, model)},
            upsert=True,
            session=session,
        )
    except DuplicateKeyError:
        if session is not None:
            raise
        await db.usage_daily.update_one(key, {"$inc": inc})


async def add_totals(
    db: AsyncDatabase, *, user_id: str, inc: dict[str, int], now: datetime, session: Session = None
) -> None:
    """Add to a user's `totalUsage` counters and set `lastActivity`.

    Raises:
        DuplicateKeyError: inside a transaction, on a racing first write (caller retries).
    """
    update = _totals_update(user_id, inc, now)
    try:
        await db.user_usage.update_one({"_id": user_id}, update, upsert=True, session=session)
    except DuplicateKeyError:
        if session is not None:
            raise
        update.pop("$setOnInsert")
        await db.user_usage.update_one({"_id": user_id}, update)


def _totals_update(user_id: str, inc: dict[str, int], now: datetime) -> dict[str, Any]:
    return {
        "$inc": {f"totalUsage.{k}": v for k, v in inc.items()},
        "$set": {"lastActivity": now},
        "$setOnInsert": {"userId": user_id},
    }


async def totals(db: AsyncDatabase, *, user_id: str) -> dict[str, Any]:
    """A user's `user_usage` document, or an empty one."""
    return await db.user_usage.find_one({"_id": user_id}, {"_id": 0}) or {"userId": user_id}


async def delete_counters(db: AsyncDatabase, *, user_id: str, session: Session = None) -> int:
    """Delete a user's admission counters (by `_id` prefix, so the `_id` index serves it).

    For user deletion: `usage_daily` and `user_usage` are deleted by `userId`.

    Returns:
        How many counters were deleted.
    """
    prefix = f"{user_id}|"
    result = await db.quota_counters.delete_many(
        {"_id": {"$gte": prefix, "$lt": prefix + "\uffff"}}, session=session
    )
    return result.deleted_count
