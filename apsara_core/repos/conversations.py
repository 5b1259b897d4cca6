"""Queries on `conversations` (one document per conversation, with its stats).

A conversation's `_id` is its public conversationId: reads and updates go through the `_id`
index, and the collection keeps a single secondary index (userId, updatedAt) for listings. On
the embedded server every secondary index costs each update ~0.2 ms, and a chat message
updates its conversation twice.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from apsara_core.repos import search_words, tallies
from apsara_core.repos.common import newest_first, sortable_time, update_then_get
from apsara_core.repos.writes import Update

Session = AsyncClientSession | None
ID_PREFIX = "conv_"  # every conversation id starts so: a search with it is an id lookup
HIDDEN = {"_id": 0, search_words.FIELD: 0, "ownerEmail": 0}  # what reads leave out
LISTED = {"_id": 0, search_words.FIELD: 0}  # a page keeps ownerEmail for its views (`page`)
TEXT, OWNERS = "$text", "$owners"  # listing_filter's search keys (removed before querying)


def new_conversation_id() -> str:
    """A fresh public conversation id."""
    return ID_PREFIX + secrets.token_hex(12)


async def insert(db: AsyncDatabase, doc: dict[str, Any]) -> None:
    """Store a new conversation document (keyed by its conversationId, with the
    `searchWords` of its title)."""
    words = search_words.words(doc.get("title"))
    await db.conversations.insert_one(
        {**doc, "_id": doc["conversationId"], search_words.FIELD: words}
    )
    await tallies.apply(db, [tallies.bump(tallies.docs_key("conversations"), 1)])


async def find(
    db: AsyncDatabase, conversation_id: str, *, session: Session = None
) -> dict[str, Any] | None:
    """The conversation with this public id, or None."""
    return await db.conversations.find_one({"_id": conversation_id}, HIDDEN, session=session)


async def list_for(
    db: AsyncDatabase,
    user_id: str | None,
    *,
    limit: int,
    skip: int,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Conversations newest-updated first: one user's, or everyone's when user_id is None."""
    docs = await page(db, listing_filter(user_id), skip=skip, limit=limit, now=now)
    for d in docs:
        d.pop("ownerEmail", None)
    return docs


def listing_filter(
    user_id: str | None, *, search: str | None = None, owner_ids: list[str] | None = None
) -> dict[str, Any]:
    """The query of a conversation listing: one user's (None: everyone's), optionally searched.

    `search` matches a title case-insensitively (anywhere, when its longest word starts a
    word of the title: see repos/search_words.py), or (when it has the id prefix) is a
    conversation id, looked up by `_id`; `owner_ids` (everyone's listing only) adds the
    conversations of those users, whose email matched. `page` reads a searched listing.

    A user's search reads that user's conversations (the (userId, updatedAt) index),
    everyone's the `searchWords` index, each alone: the embedded server answers a query with
    any second condition (a title regex beside the userId, a word range beside it, an `$or`)
    by scanning the whole collection (explain: COLLSCAN).
    """
    query: dict[str, Any] = {} if user_id is None else {"userId": user_id}
    if not search:
        return query
    if search.startswith(ID_PREFIX):  # `_id` first: the server picks the first key's index
        return {"_id": search, **query}  # (3 ms; 37 ms through userId's)
    return {**query, TEXT: search, OWNERS: owner_ids if user_id is None else None}


async def _searched(
    db: AsyncDatabase, query: dict[str, Any], *, skip: int, limit: int
) -> list[dict[str, Any]]:
    """A searched listing (`listing_filter`): the candidates of the word range whose title
    holds the search, and the conversations of the matching owners, newest-updated first."""
    text, owners, user_id = query[TEXT], query[OWNERS], query.get("userId")
    read = {"userId": user_id} if user_id is not None else search_words.server_query(text)
    found = {
        d["conversationId"]: d
        for d in await db.conversations.find(read).to_list(None)
        if search_words.matches(text, d, d.get("title"))
    }
    if owners:
        by_owner = db.conversations.find({"userId": {"$in": owners}})
        found.update({d["conversationId"]: d for d in await by_owner.to_list(None)})
    for d in found.values():  # read whole: `matches` needs the words
        for hidden in LISTED:
            d.pop(hidden, None)
    items = sorted(
        found.values(),
        key=lambda d: (sortable_time(d.get("updatedAt")), str(d["conversationId"])),
        reverse=True,
    )
    return items[skip : skip + limit]


async def page(
    db: AsyncDatabase,
    query: dict[str, Any],
    *,
    skip: int,
    limit: int,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Conversations matching `query`, newest-updated first (ties by id, so pages are stable),
    with their `ownerEmail` where stored (for views; `list_for` drops it).

    With `now`, an unsearched listing (one user's or everyone's) is read in updatedAt windows
    (`newest_first`, through the (userId, updatedAt) or updatedAt index).
    """
    if TEXT in query:
        return await _searched(db, query, skip=skip, limit=limit)
    if now is not None and set(query) <= {"userId"}:
        return await newest_first(
            db.conversations,
            query,
            "updatedAt",
            now=now,
            skip=skip,
            limit=limit,
            projection=LISTED,
            tie="conversationId",
        )
    cursor = db.conversations.find(query, LISTED).sort(
        [("updatedAt", DESCENDING), ("_id", DESCENDING)]
    )
    return await cursor.skip(skip).limit(limit).batch_size(limit).to_list()


async def first_of(db: AsyncDatabase, user_id: str | None, *, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` conversations of one user (everyone's when None), in storage order, with
    only their title and message count: what a "delete all" confirmation names."""
    query = {} if user_id is None else {"userId": user_id}
    cursor = db.conversations.find(query, {"_id": 0, "title": 1, "stats.totalMessages": 1})
    return await cursor.limit(limit).batch_size(limit).to_list()  # one round trip


async def ids_of_user(
    db: AsyncDatabase, user_id: str | None, *, session: Session = None
) -> list[str]:
    """Conversation ids of one user (every conversation when user_id is None)."""
    query = {} if user_id is None else {"userId": user_id}
    cursor = db.conversations.find(query, {"conversationId": 1, "_id": 0}, session=session)
    return [d["conversationId"] async for d in cursor]


async def set_fields(
    db: AsyncDatabase,
    conversation_id: str,
    fields: dict[str, Any],
    *,
    guard: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """$set fields (when `guard` also matches; a new title updates the `searchWords`); the
    updated document or None."""
    if "title" in fields:
        fields = {**fields, search_words.FIELD: search_words.words(fields["title"])}
    return await update_then_get(
        db.conversations,
        {"_id": conversation_id, **(guard or {})},
        {"$set": fields},
        key={"_id": conversation_id},
        projection=HIDDEN,
    )


def _sequence_change(now: datetime, tokens: int) -> dict[str, Any]:
    return {
        "$inc": {"stats.messageSequence": 1, "stats.totalMessages": 1, "stats.totalTokens": tokens},
        "$set": {"stats.lastActivity": now, "updatedAt": now},
    }


def next_sequence_if(
    conversation_id: str, expected: int, now: datetime, *, tokens: int = 0
) -> Update:
    """Take sequence `expected + 1` (and count the message and its tokens) only if `expected` is
    still the last one: matches nothing when another message came in between."""
    return Update(
        "conversations",
        {"_id": conversation_id, "stats.messageSequence": expected},
        _sequence_change(now, tokens),
    )


async def allocate_sequence(
    db: AsyncDatabase, conversation_id: str, now: datetime, *, session: Session, tokens: int = 0
) -> int:
    """Take the next messageSequence (atomic $inc), count the message and its tokens.

    Run inside the transaction that inserts the message, so a failed insert gives the number
    back. Inside the transaction the update holds the document until commit, so the read sees
    our own increment and no other; a racing transaction conflicts and is retried.

    Raises:
        LookupError: no such conversation.
    """
    doc = await update_then_get(
        db.conversations,
        {"_id": conversation_id},
        _sequence_change(now, tokens),
        projection={"stats.messageSequence": 1},
        session=session,
    )
    if doc is None:
        raise LookupError(conversation_id)
    return int(doc["stats"]["messageSequence"])


async def add_stats(
    db: AsyncDatabase,
    conversation_id: str,
    *,
    messages: int = 0,
    tokens: int = 0,
    session: Session = None,
) -> None:
    """Adjust totalMessages / totalTokens."""
    await db.conversations.update_one(
        {"_id": conversation_id},
        {"$inc": {"stats.totalMessages": messages, "stats.totalTokens": tokens}},
        session=session,
    )


async def delete(db: AsyncDatabase, conversation_ids: list[str], *, session: Session) -> int:
    """Delete conversations; how many went."""
    result = await db.conversations.delete_many({"_id": {"$in": conversation_ids}}, session=session)
    gone = [tallies.bump(tallies.docs_key("conversations"), -result.deleted_count)]
    await tallies.apply(db, gone, session=session)
    return result.deleted_count
