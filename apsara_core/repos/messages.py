"""Queries on `messages` and `message_archive`.

Windows are read with a RANGE on messageSequence, never sort+limit: the embedded server does
not use an index to sort, and the range form is index-bounded on every MongoDB.
"""

from __future__ import annotations

import secrets
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from apsara_core.repos import tallies

Session = AsyncClientSession | None
NO_ID = {"_id": 0}


def new_message_id() -> str:
    """A fresh public message id."""
    return "msg_" + secrets.token_hex(12)


def new_branch_id() -> str:
    """A fresh id for a set of archived messages."""
    return "br_" + secrets.token_hex(8)


async def insert(db: AsyncDatabase, doc: dict[str, Any], *, session: Session = None) -> None:
    """Store one message (and count it)."""
    await db.messages.insert_one(dict(doc), session=session)
    counted = tallies.bump(tallies.docs_key("messages", doc["conversationId"]), 1)
    await tallies.apply(db, [counted], session=session)


async def window(
    db: AsyncDatabase, conversation_id: str, upper: int, count: int, *, session: Session = None
) -> list[dict[str, Any]]:
    """Up to `count` messages with messageSequence < upper, ascending.

    Reads the range (upper - count, upper) first and widens it only when archived messages left
    gaps in the sequence.
    """
    span, found = count, []
    while True:
        low = max(upper - span, 0)
        query = {"conversationId": conversation_id, "messageSequence": {"$gte": low, "$lt": upper}}
        found = await db.messages.find(query, NO_ID, session=session).to_list()
        if len(found) >= count or low == 0:
            break
        span *= 4
    found.sort(key=lambda m: m["messageSequence"])
    return found[-count:] if count else []


def window_query(conversation_id: str, last_sequence: int, count: int) -> dict[str, Any]:
    """The filter of the newest `count` sequences (for explain() in benchmarks)."""
    return {
        "conversationId": conversation_id,
        "messageSequence": {"$gte": max(last_sequence + 1 - count, 0), "$lt": last_sequence + 1},
    }


async def find(
    db: AsyncDatabase, conversation_id: str, message_id: str, *, session: Session = None
) -> dict[str, Any] | None:
    """One message of a conversation, or None."""
    return await db.messages.find_one(
        {"messageId": message_id, "conversationId": conversation_id}, NO_ID, session=session
    )


async def at_sequence(
    db: AsyncDatabase, conversation_id: str, sequence: int
) -> dict[str, Any] | None:
    """The live message at `sequence`, or None."""
    return await db.messages.find_one(
        {"conversationId": conversation_id, "messageSequence": sequence}, NO_ID
    )


async def by_id(db: AsyncDatabase, message_id: str) -> dict[str, Any] | None:
    """A live message by its id alone, or None."""
    return await db.messages.find_one({"messageId": message_id}, NO_ID)


async def from_sequence(
    db: AsyncDatabase, conversation_id: str, sequence: int, *, session: Session = None
) -> list[dict[str, Any]]:
    """Every message with messageSequence >= sequence, ascending."""
    query = {"conversationId": conversation_id, "messageSequence": {"$gte": sequence}}
    found = await db.messages.find(query, NO_ID, session=session).to_list()
    return sorted(found, key=lambda m: m["messageSequence"])


async def count_after(
    db: AsyncDatabase, conversation_id: str, sequence: int, *, session: Session = None
) -> int:
    """How many live messages have messageSequence > sequence."""
    query = {"conversationId": conversation_id, "messageSequence": {"$gt": sequence}}
    return await db.messages.count_documents(query, session=session)


async def delete_from(
    db: AsyncDatabase, conversation_id: str, sequence: int, *, session: Session
) -> int:
    """Delete messages with messageSequence >= sequence; how many went."""
    result = await db.messages.delete_many(
        {"conversationId": conversation_id, "messageSequence": {"$gte": sequence}}, session=session
    )
    gone = [tallies.bump(tallies.docs_key("messages"), -result.deleted_count)]
    await tallies.apply(db, gone, session=session)
    return result.deleted_count


async def replace(db: AsyncDatabase, doc: dict[str, Any], *, session: Session) -> None:
    """Overwrite a stored message (same messageId)."""
    await db.messages.replace_one({"messageId": doc["messageId"]}, dict(doc), session=session)


async def set_fields(
    db: AsyncDatabase, message_id: str, fields: dict[str, Any], *, session: Session = None
) -> None:
    """$set fields on one message."""
    await db.messages.update_one({"messageId": message_id}, {"$set": fields}, session=session)


async def delete_conversations(
    db: AsyncDatabase, conversation_ids: list[str], *, session: Session
) -> int:
    """Delete the messages and archive of these conversations; how many live messages went."""
    query = {"conversationId": {"$in": conversation_ids}}
    result = await db.messages.delete_many(query, session=session)
    await db.message_archive.delete_many(query, session=session)
    gone = [tallies.bump(tallies.docs_key("messages"), -result.deleted_count)]
    await tallies.apply(db, gone, session=session)
    return result.deleted_count


async def archive(db: AsyncDatabase, docs: list[dict[str, Any]], *, session: Session) -> None:
    """Store archived message versions (each already carries branchId and archivedAt)."""
    if docs:
        await db.message_archive.insert_many([dict(d) for d in docs], session=session)


async def archived(
    db: AsyncDatabase,
    conversation_id: str,
    branch_id: str | None = None,
    *,
    session: Session = None,
) -> list[dict[str, Any]]:
    """Archived versions of a conversation (one branch when branch_id is given)."""
    query: dict[str, Any] = {"conversationId": conversation_id}
    if branch_id is not None:
        query["branchId"] = branch_id
    found = await db.message_archive.find(query, NO_ID, session=session).to_list()
    return sorted(found, key=lambda m: (m["archivedAt"], m["messageSequence"]))


async def drop_branch(
    db: AsyncDatabase, conversation_id: str, branch_id: str, *, session: Session
) -> None:
    """Remove a branch from the archive (after restoring it)."""
    await db.message_archive.delete_many(
        {"conversationId": conversation_id, "branchId": branch_id}, session=session
    )
