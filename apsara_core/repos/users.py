"""Queries on `users`. Ids are ObjectId hex strings stored as string `_id`."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from apsara_core.repos import search_words, tallies
from apsara_core.repos.common import newest_first, sortable_time, update_then_get

SEARCHED = ("email", "fullName")  # the fields `searchWords` holds the words of
TEXT = "$text"  # list_filter's key for the whole search text (removed before querying)


def new_id() -> str:
    """A fresh user id (24 hex characters)."""
    return str(ObjectId())


def normalize_email(email: str) -> str:
    """Emails are stored and looked up lowercased and trimmed."""
    return email.strip().lower()


async def find_by_id(db: AsyncDatabase, user_id: str) -> dict[str, Any] | None:
    """The user with this id, or None."""
    return await db.users.find_one({"_id": user_id})


async def find_by_email(db: AsyncDatabase, email: str) -> dict[str, Any] | None:
    """The user with this email (case-insensitive), or None."""
    return await db.users.find_one({"email": normalize_email(email)})


async def find_by_email_or_id(db: AsyncDatabase, key: str) -> dict[str, Any] | None:
    """Look a user up by email when `key` contains "@", else by id."""
    key = key.strip()
    if "@" in key:
        return await find_by_email(db, key)
    return await find_by_id(db, key)


async def emails_by_id(db: AsyncDatabase, user_ids: list[str]) -> dict[str, str]:
    """The email of each user id that still exists: one `$in` query for a whole page."""
    if not user_ids:
        return {}
    docs = await db.users.find({"_id": {"$in": list(user_ids)}}, {"email": 1}).to_list(None)
    return {str(d["_id"]): d.get("email", "") for d in docs}


async def ids_by_email_prefix(db: AsyncDatabase, prefix: str, *, limit: int) -> list[str]:
    """Ids of up to `limit` users whose email starts with `prefix` (a range on the email
    index: emails are stored lowercased)."""
    start = normalize_email(prefix)
    if not start:
        return []
    cursor = db.users.find({"email": {"$gte": start, "$lt": start + "\uffff"}}, {"_id": 1})
    return [str(d["_id"]) for d in await cursor.limit(limit).to_list()]


async def find_by_google_id(db: AsyncDatabase, google_id: str) -> dict[str, Any] | None:
    """The user linked to this Google `sub`, or None."""
    return await db.users.find_one({"googleId": google_id})


async def find_guest_by_key(db: AsyncDatabase, client_key: str) -> dict[str, Any] | None:
    """The (not upgraded) guest tied to this client key, or None."""
    return await db.users.find_one({"guestClientKey": client_key})


async def delete_new_guest(db: AsyncDatabase, user_id: str) -> None:
    """Remove a guest account just created (refused by the per-address cap)."""
    doc = await db.users.find_one({"_id": user_id, "isGuest": True})
    if doc is not None and (await db.users.delete_one({"_id": user_id})).deleted_count:
        await tallies.apply(db, tallies.user_removed(doc))


async def insert(db: AsyncDatabase, doc: dict[str, Any], session: Any = None) -> None:
    """Store a new user document (DuplicateKeyError on a taken email / googleId / key) and
    count it (in the caller's transaction when given); its `searchWords` are added when
    missing."""
    doc.setdefault(search_words.FIELD, search_words.user_words(doc))
    await db.users.insert_one(doc, session=session)
    await tallies.apply(db, tallies.user_added(doc), session=session)


async def update(
    db: AsyncDatabase,
    user_id: str,
    set_: dict[str, Any],
    *,
    now: datetime,
    unset: tuple[str, ...] = (),
    session: Any = None,
) -> dict[str, Any] | None:
    """Set (and unset) fields, stamping updatedAt with `now`; returns the document after, or None."""
    change: dict[str, Any] = {"$set": {**set_, "updatedAt": now}}
    if unset:
        change["$unset"] = {name: "" for name in unset}
    counted = tallies.USER_FIELDS & set(set_)
    searched = set(SEARCHED) & set(set_)
    before = (
        await db.users.find_one({"_id": user_id}, session=session) if counted or searched else None
    )
    if before is not None and searched:
        change["$set"][search_words.FIELD] = search_words.user_words({**before, **set_})
    after = await update_then_get(db.users, {"_id": user_id}, change, session=session)
    if before is not None and after is not None:
        await tallies.apply(db, tallies.user_changed(before, after), session=session)
    return after


async def replace_password(
    db: AsyncDatabase, user_id: str, old_hash: str, fields: dict[str, Any]
) -> bool:
    """Swap the password hash for `fields` only if `old_hash` is still stored (a parallel
    password reset is never overwritten)."""
    result = await db.users.update_one({"_id": user_id, "password": old_hash}, {"$set": fields})
    return result.modified_count == 1


async def count_failure(db: AsyncDatabase, user_id: str) -> None:
    """Add one failed login to the account's shown count (the lockout itself is counted per
    email in `login_attempts`)."""
    await db.users.update_one({"_id": user_id}, {"$inc": {"failedLoginAttempts": 1}})


async def mirror_lock(db: AsyncDatabase, email: str, until: datetime) -> dict[str, Any] | None:
    """Copy a lock of this email onto its account (token, Google, guest and reset paths read
    it there); returns the account, or None when the email has none."""
    return await update_then_get(
        db.users, {"email": normalize_email(email)}, {"$set": {"lockedUntil": until}}
    )


async def record_login(db: AsyncDatabase, user_id: str, *, now: datetime) -> dict[str, Any] | None:
    """A successful sign-in: reset the failure counter, stamp lastLoginAt with `now`."""
    return await update_then_get(
        db.users,
        {"_id": user_id},
        {
            "$set": {
                "failedLoginAttempts": 0,
                "lockedUntil": None,
                "lastLoginAt": now,
                "updatedAt": now,
            }
        },
    )


async def take_guest_session(db: AsyncDatabase, user_id: str, window: datetime, limit: int) -> bool:
    """Count one new guest session in the hour starting at `window`; False over `limit`.

    One conditional update per case (same window and under the limit; or a new window),
    so parallel callers never exceed the limit.
    """
    for _ in range(2):  # a parallel caller may open the new window between our two tries
        same = await db.users.update_one(
            {"_id": user_id, "guestSessionWindow": window, "guestSessionCount": {"$lt": limit}},
            {"$inc": {"guestSessionCount": 1}},
        )
        if same.modified_count:
            return True
        fresh = await db.users.update_one(
            {"_id": user_id, "guestSessionWindow": {"$ne": window}},
            {"$set": {"guestSessionWindow": window, "guestSessionCount": 1}},
        )
        if fresh.modified_count:
            return True
    return False


def list_filter(
    *,
    role: str | None = None,
    plan: str | None = None,
    provider: str | None = None,
    text: str | None = None,
) -> dict[str, Any]:
    """The query of `user list`: exact role/plan/provider, text in email or name (read by
    `list_page` through `searchWords`, see repos/search_words.py)."""
    query: dict[str, Any] = {}
    if role:
        query["role"] = role
    if plan:
        query["subscriptionPlan"] = plan
    if provider:
        query["authProvider"] = provider
    if text:
        query[TEXT] = text.strip()
    return query


async def list_page(
    db: AsyncDatabase,
    query: dict[str, Any],
    *,
    skip: int,
    limit: int,
    now: datetime | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """One page of users, newest first, and the total matching.

    With `now` and no text search the page is read in createdAt windows (`newest_first`,
    through the createdAt, role, plan or provider index) and the total comes from the
    maintained counters. A text search reads the users having a word that starts with the
    search's longest word (the `searchWords` index), keeps those whose email or name holds
    the whole text, and sorts those only: it costs the candidates, not the collection.
    """
    if TEXT in query:
        equal = dict(query)
        text = equal.pop(TEXT)
        found = [
            d
            for d in await db.users.find(search_words.server_query(text)).to_list(None)
            if all(d.get(k) == v for k, v in equal.items())
            and search_words.matches(text, d, d.get("email"), d.get("fullName"))
        ]
        found.sort(key=lambda d: (sortable_time(d.get("createdAt")), str(d["_id"])), reverse=True)
        return found[skip : skip + limit], len(found)
    if now is not None:
        items = await newest_first(db.users, query, "createdAt", now=now, skip=skip, limit=limit)
        combos = await tallies.user_combinations(db)
        return items, sum(n for key, n in combos.items() if _combo_matches(key, query))
    total = await db.users.count_documents(query)
    cursor = db.users.find(query).sort([("createdAt", DESCENDING), ("_id", DESCENDING)])
    items = await cursor.skip(skip).limit(limit).to_list()
    return items, total


def _combo_matches(key: tuple[str, str, str], query: dict[str, Any]) -> bool:
    fields = ("role", "subscriptionPlan", "authProvider")
    return all(query.get(f, value) == value for f, value in zip(fields, key, strict=True))


async def delete_with_data(db: AsyncDatabase, user_id: str, session: Any) -> dict[str, int]:
    """Delete a user and everything they own, inside the caller's transaction.

    Returns:
        Deleted counts: conversations, messages (incl. archived versions), files, usage.
    """
    by_user = {"userId": user_id}
    conv_ids = [
        c["conversationId"]
        async for c in db.conversations.find(by_user, {"conversationId": 1}, session=session)
    ]
    counts = {}
    archived = await db.message_archive.delete_many(
        {"conversationId": {"$in": conv_ids}}, session=session
    )
    counts["message_archive"] = archived.deleted_count
    for name in ("conversations", "messages", "files", "usage_daily"):
        result = await db[name].delete_many(by_user, session=session)
        counts[name] = result.deleted_count
    counts["user_usage"] = (
        await db.user_usage.delete_many({"_id": user_id}, session=session)
    ).deleted_count
    await db.file_usage.delete_many({"_id": user_id}, session=session)
    # quota counters are keyed "<userId>|<date>|<model>": an _id prefix, served by the _id index
    await db.quota_counters.delete_many(
        {"_id": {"$regex": f"^{re.escape(user_id)}\\|"}}, session=session
    )
    doc = await db.users.find_one({"_id": user_id}, session=session)
    if (
        doc is not None
        and (await db.users.delete_one({"_id": user_id}, session=session)).deleted_count
    ):
        await tallies.apply(db, tallies.user_removed(doc), session=session)
    await tallies.apply(
        db,
        [
            tallies.bump(tallies.docs_key("conversations"), -counts["conversations"]),
            tallies.bump(tallies.docs_key("messages"), -counts["messages"]),
        ],
        session=session,
    )
    return {
        "conversations": counts["conversations"],
        "messages": counts["messages"] + counts["message_archive"],
        "files": counts["files"],
        "usage": counts["user_usage"] + counts["usage_daily"],
    }
