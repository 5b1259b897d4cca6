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
        found = await in_range(db, conversation_id, low, upper, session=session)
        if len(found) >= count or low == 0:
            break
        span *= 4
    found.sort(key=lambda m: m["messageSequence"])
    return found[-count:] if count else []


async def in_range(
    db: AsyncDatabase, conversation_id: str, low: int, high: int, *, session: Session = None
) -> list[dict[str, Any]]:
    """The messages with low <= messageSequence < high, in no particular order."""
    query = range_query(conversation_id, low, high)
    return await db.messages.find(query, NO_ID, session=session).to_list()


def range_query(conversation_id: str, low: int, high: int) -> dict[str, Any]:
    """The filter of sequences low <= messageSequence < high (the index's own range)."""
    return {"conversationId": conversation_id, "messageSequence": {"$gte": low, "$lt": high}}


async def parent_before(
    db: AsyncDatabase, conversation_id: str, sequence: int, *, session: Session = None
) -> tuple[str | None, int]:
    """The live message a branch starting at `sequence` continues: (its id, its sequence), or
    (None, 0) when nothing live comes before."""
    before = await window(db, conversation_id, sequence, 1, session=session)
    return (before[-1]["messageId"], before[-1]["messageSequence"]) if before else (None, 0)


def window_query(conversation_id: str, last_sequence: int, count: int) -> dict[str, Any]:
    """The filter of the newest `count` sequences (for explain() in benchmarks)."""
    return range_query(conversation_id, max(last_sequence + 1 - count, 0), last_sequence + 1)


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


async def next_after(
    db: AsyncDatabase, conversation_id: str, sequence: int, *, session: Session = None
) -> dict[str, Any] | None:
    """The first live message with messageSequence > sequence, or None.

    Read in widening ranges (a regenerated reply leaves a gap after its prompt), never sorted
    on the server.
    """
    query: dict[str, Any] = {"conversationId": conversation_id}
    span = 4
    while True:
        query["messageSequence"] = {"$gt": sequence, "$lte": sequence + span}
        found = await db.messages.find(query, NO_ID, session=session).to_list()
        if found:
            return min(found, key=lambda m: m["messageSequence"])
        if not await db.messages.count_documents(
            {"conversationId": conversation_id, "messageSequence": {"$gt": sequence + span}},
            session=session,
        ):
            return None
        span *= 8


async def live_sequences(
    db: AsyncDatabase, conversation_id: str, message_ids: list[str], *, session: Session = None
) -> dict[str, int]:
    """{messageId: messageSequence} of those ids that are live messages of the conversation."""
    if not message_ids:
        return {}
    # messageId first: the server uses the first key's index (conversationId's would read
    # the whole conversation)
    query = {"messageId": {"$in": message_ids}, "conversationId": conversation_id}
    found = await db.messages.find(
        query, {"_id": 0, "messageId": 1, "messageSequence": 1}, session=session
    ).to_list()
    return {m["messageId"]: m["messageSequence"] for m in found}


async def delete_ids(
    db: AsyncDatabase, conversation_id: str, message_ids: list[str], *, session: Session
) -> int:
    """Delete these live messages of a conversation (and uncount them); how many went."""
    result = await db.messages.delete_many(
        {"messageId": {"$in": message_ids}, "conversationId": conversation_id}, session=session
    )  # messageId first, as in live_sequences
    gone = [tallies.bump(tallies.docs_key("messages", conversation_id), -result.deleted_count)]
    await tallies.apply(db, gone, session=session)
    return result.deleted_count


async def reparent(
    db: AsyncDatabase,
    conversation_id: str,
    old_parents: list[str],
    parent_id: str | None,
    parent_sequence: int,
    *,
    session: Session,
) -> None:
    """Archived branches that continued one of `old_parents` now continue `parent_id`."""
    await db.message_archive.update_many(
        {"conversationId": conversation_id, "parentId": {"$in": old_parents}},
        {"$set": {"parentId": parent_id, "parentSequence": parent_sequence}},
        session=session,
    )


ARCHIVE_HEAD_FIELDS = {
    "_id": 0,
    **dict.fromkeys(
        (
            "branchId",
            "parentId",
            "parentSequence",
            "anchorSequence",
            "archivedAt",
            "reason",
            "messageId",
            "messageSequence",
            "role",
            "createdAt",
            "editHistory.editedAt",
            "content.text",
        ),
        1,
    ),
}


async def archive_heads(db: AsyncDatabase, conversation_id: str) -> list[dict[str, Any]]:
    """Every archived message of a conversation with only what a version tree needs."""
    return await db.message_archive.find(
        {"conversationId": conversation_id}, ARCHIVE_HEAD_FIELDS
    ).to_list()


SEARCH_SPAN = 256
"""Sequences a search reads first (from the newest); each further window is twice as wide."""


async def search(
    db: AsyncDatabase, conversation_id: str, pattern: str, *, upper: int, skip: int, limit: int
) -> list[dict[str, Any]]:
    """Live messages whose text matches the regex `pattern` (any case), newest first: at most
    `limit` after `skip`, each with its text but no thoughts, files or metadata.

    Read in messageSequence windows below `upper`, newest window first, stopping once
    skip + limit + 1 matches are in: a search whose matches are recent never reads the whole
    conversation, and at most skip + limit + 1 messages come back to Python. Each window is an
    aggregation whose first stage is the index range and whose second applies the regex: the
    embedded server answers a find() that has a $regex with a collection scan (measured: 516
    ms for a 256-message window of a 10,000-message conversation, 23 ms this way).
    """
    fields = {"_id": 0, "messageId": 1, "messageSequence": 1, "role": 1, "createdAt": 1}
    text = {"content.text": {"$regex": pattern, "$options": "i"}}
    found: list[dict[str, Any]] = []
    high, span, need = upper, SEARCH_SPAN, skip + limit + 1
    while high > 0 and len(found) < need:
        low = max(high - span, 0)
        window = {"conversationId": conversation_id, "messageSequence": {"$gte": low, "$lt": high}}
        pipeline: list[dict[str, Any]] = [
            {"$match": window},
            {"$match": text},
            {"$project": {**fields, "content.text": 1}},
        ]
        batch = await (await db.messages.aggregate(pipeline)).to_list()
        found += sorted(batch, key=lambda m: -m["messageSequence"])
        high, span = low, span * 2
    return found[skip : skip + limit + 1]
