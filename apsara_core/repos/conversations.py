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

from apsara_core.repos.common import update_then_get
from apsara_core.repos.writes import Update

Session = AsyncClientSession | None


def new_conversation_id() -> str:
    """A fresh public conversation id."""
    return "conv_" + secrets.token_hex(12)


async def insert(db: AsyncDatabase, doc: dict[str, Any]) -> None:
    """Store a new conversation document (keyed by its conversationId)."""
    await db.conversations.insert_one({**doc, "_id": doc["conversationId"]})


async def find(db: AsyncDatabase, conversation_id: str, *, session: Session = None) -> dict[str, Any] | None:
    """The conversation with this public id, or None."""
    return await db.conversations.find_one({"_id": conversation_id},
                                           {"_id": 0}, session=session)


async def list_for(db: AsyncDatabase, user_id: str | None, *, limit: int, skip: int) -> list[dict[str, Any]]:
    """Conversations newest-updated first: one user's, or everyone's when user_id is None."""
    query = {} if user_id is None else {"userId": user_id}
    cursor = db.conversations.find(query, {"_id": 0}).sort("updatedAt", DESCENDING)
    return await cursor.skip(skip).limit(limit).to_list()


async def ids_of_user(db: AsyncDatabase, user_id: str | None, *, session: Session = None) -> list[str]:
    """Conversation ids of one user (every conversation when user_id is None)."""
    query = {} if user_id is None else {"userId": user_id}
    cursor = db.conversations.find(query, {"conversationId": 1, "_id": 0}, session=session)
    return [d["conversationId"] async for d in cursor]


async def set_fields(db: AsyncDatabase, conversation_id: str, fields: dict[str, Any],
                     *, guard: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """$set fields (when `guard` also matches); the updated document or None.

    """
    return await update_then_get(
        db.conversations, {"_id": conversation_id, **(guard or {})}, {"$set": fields},
        key={"_id": conversation_id}, projection={"_id": 0})


def _sequence_change(now: datetime, tokens: int) -> dict[str, Any]:
    return {"$inc": {"stats.messageSequence": 1, "stats.totalMessages": 1, "stats.totalTokens": tokens},
            "$set": {"stats.lastActivity": now, "updatedAt": now}}


def next_sequence_if(conversation_id: str, expected: int, now: datetime, *, tokens: int = 0) -> Update:
    """Take sequence `expected + 1` (and count the message and its tokens) only if `expected` is
    still the last one: matches nothing when another message came in between."""
    return Update("conversations", {"_id": conversation_id,
                                    "stats.messageSequence": expected},
                  _sequence_change(now, tokens))


async def allocate_sequence(db: AsyncDatabase, conversation_id: str, now: datetime,
                            *, session: Session, tokens: int = 0) -> int:
    """Take the next messageSequence (atomic $inc), count the message and its tokens.

    Run inside the transaction that inserts the message, so a failed insert gives the number
    back. Inside the transaction the update holds the document until commit, so the read sees
    our own increment and no other; a racing transaction conflicts and is retried.

    Raises:
        LookupError: no such conversation.
    """
    doc = await update_then_get(db.conversations, {"_id": conversation_id},
                                _sequence_change(now, tokens),
                                projection={"stats.messageSequence": 1}, session=session)
    if doc is None:
        raise LookupError(conversation_id)
    return int(doc["stats"]["messageSequence"])


async def add_stats(db: AsyncDatabase, conversation_id: str, *, messages: int = 0, tokens: int = 0,
                    session: Session = None) -> None:
    """Adjust totalMessages / totalTokens."""
    await db.conversations.update_one(
        {"_id": conversation_id},
        {"$inc": {"stats.totalMessages": messages, "stats.totalTokens": tokens}}, session=session)


async def delete(db: AsyncDatabase, conversation_ids: list[str], *, session: Session) -> int:
    """Delete conversations; how many went."""
    result = await db.conversations.delete_many({"_id": {"$in": conversation_ids}},
                                                session=session)
    return result.deleted_count
