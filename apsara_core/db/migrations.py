"""Data migrations between schema versions, run by `ensure_schema` (idempotent, multi-process
safe: every step may run twice, or in two processes at once)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure

INDEX_NOT_FOUND = 27

# (collection, public id field, indexes made redundant when `_id` is that id)
KEYED_BY_PUBLIC_ID = [
    ("conversations", "conversationId", ["conversationId_1", "updatedAt_-1"]),
    ("user_usage", "userId", ["userId_1"]),
]


async def _drop_index(db: AsyncDatabase, collection: str, name: str) -> None:
    try:
        await db[collection].drop_index(name)
    except OperationFailure as exc:
        if exc.code != INDEX_NOT_FOUND and "not found" not in str(exc).lower():
            raise


async def key_by_public_id(db: AsyncDatabase) -> None:
    """Version 2: conversations and user_usage documents take their public id as `_id`.

    Each document with a generated `_id` is copied under the new `_id`, then the old one is
    deleted; the unique indexes the `_id` index now replaces are dropped first (they would
    refuse the copy).
    """
    for collection, key, stale in KEYED_BY_PUBLIC_ID:
        for name in stale:
            await _drop_index(db, collection, name)
        async for doc in db[collection].find({"_id": {"$type": "objectId"}}):
            if not isinstance(doc.get(key), str):
                continue
            try:
                await db[collection].insert_one({**doc, "_id": doc[key]})
            except DuplicateKeyError:  # copied already (another process, or an earlier run)
                pass
            await db[collection].delete_one({"_id": doc["_id"]})


async def count_tallies(db: AsyncDatabase) -> None:
    """Version 3: fill the maintained counters (repos/tallies.py) from the data, once.

    Scans users, usage_daily and the counted collections one time at upgrade; from then on
    the writes keep the counters. Writes made during the upgrade itself may be missed.
    """
    from apsara_core.repos import tallies, usage

    await db.tallies.delete_many({})
    increments: dict[str, dict[str, int]] = {}

    def add(key: str, field: str, n: int) -> None:
        increments.setdefault(key, {}).setdefault(field, 0)
        increments[key][field] += n

    async for user in db.users.find(
        {}, {"role": 1, "subscriptionPlan": 1, "authProvider": 1, "createdAt": 1}
    ):
        add(tallies.user_key(user), "n", 1)
        if user.get("createdAt") is not None:
            add(tallies.registration_key(user["createdAt"].date().isoformat()), "n", 1)
    async for row in db.usage_daily.find({"date": {"$ne": "total"}}):
        for name in usage.DAILY_FIELDS:
            if row.get(name):
                add(tallies.usage_key(row["date"], row["model"]), name, int(row[name]))
    for name in tallies.COUNTED:
        add(tallies.docs_key(name), "n", await db[name].count_documents({}))
    await tallies.add_many(db, increments, replace=True)  # $set: running twice is harmless


async def fill_search_words(db: AsyncDatabase) -> None:
    """Version 4: store the `searchWords` of every user (email, name) and conversation
    (title) written before (repos/search_words.py); later writes keep them."""
    from pymongo import UpdateOne

    from apsara_core.repos import search_words

    for collection, fields, make in (
        ("users", {"email": 1, "fullName": 1}, search_words.user_words),
        ("conversations", {"title": 1}, lambda d: search_words.words(d.get("title"))),
    ):
        ops: list[UpdateOne] = []
        async for doc in db[collection].find({}, fields):
            ops.append(UpdateOne({"_id": doc["_id"]}, {"$set": {search_words.FIELD: make(doc)}}))
            if len(ops) >= 1000:
                await db[collection].bulk_write(ops, ordered=False)
                ops = []
        if ops:
            await db[collection].bulk_write(ops, ordered=False)


async def fill_ranks(db: AsyncDatabase) -> None:
    """Version 5: the "most active users" ranking (repos/ranks.py) of each user, from their
    usage_daily of the WINDOW days ending with their latest day (a stored score may only be
    above the true one: those end no earlier than today's window)."""
    from pymongo import UpdateOne

    from apsara_core.repos import ranks

    per_user: dict[str, dict[str, tuple[int, int]]] = {}
    async for row in db.usage_daily.find({"date": {"$ne": "total"}}):
        days = per_user.setdefault(str(row["userId"]), {})
        n, t = days.get(row["date"], (0, 0))
        days[row["date"]] = (n + int(row.get("committed", 0)), t + int(row.get("totalTokens", 0)))
    ops = []
    for user_id, days in per_user.items():
        first = ranks.window_start(max(days))
        kept = {d: v for d, v in days.items() if d >= first and v[0]}
        ops.append(UpdateOne({"_id": user_id}, {"$set": {"ranks": ranks.ranks_of(kept)}}))
    for start in range(0, len(ops), 1000):
        await db.user_usage.bulk_write(ops[start : start + 1000], ordered=False)


MIGRATIONS: dict[int, Callable[[AsyncDatabase], Awaitable[None]]] = {
    2: key_by_public_id,
    3: count_tallies,
    4: fill_search_words,
    5: fill_ranks,
}
