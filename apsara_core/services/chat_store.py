"""Multi-document writes of conversations: appending a message, archiving and restoring branches.

Each runs in one transaction (`run_in_transaction`: retried on transient conflicts), never
with a model call inside. Times come from the caller's clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from datetime import datetime
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from apsara_core.db.transactions import run_in_transaction
from apsara_core.errors import ConflictError, NotFoundError
from apsara_core.repos import conversations as conv_repo
from apsara_core.repos import messages as msg_repo
from apsara_core.repos import tallies, writes
from apsara_core.repos.writes import Insert, Write


def count_one(conversation_id: str) -> Write:
    """Count a message in `tallies`, in the message's own transaction (its shard: see
    tallies.spread)."""
    return tallies.bump(tallies.docs_key("messages", conversation_id), 1)


ARCHIVE_FIELDS = (
    "branchId",
    "archivedAt",
    "reason",
    "anchorSequence",
    "branchOf",
    "parentId",
    "parentSequence",
)


class _Stale(Exception):
    """Another message took the expected sequence first (aborts the fast path's transaction)."""


async def append(
    db: AsyncDatabase,
    doc: dict[str, Any],
    *,
    tokens: int = 0,
    expected: int | None = None,
    also: Sequence[Write] = (),
    gate: Awaitable[Any] | None = None,
) -> dict[str, Any]:
    """Give `doc` the next messageSequence and store it, atomically (adding `tokens` to the stats).

    The message's `createdAt` (stamped by the caller) is also the conversation's lastActivity.

    `expected` is the conversation's last sequence as the caller saw it: when nothing came in
    between, the sequence, the message and `also` (e.g. the quota commit's writes) go to the
    server as one bulk write in one transaction, two round trips in all. Otherwise (or without
    `expected`) the sequence is taken and read back first.

    `gate`, when given, is awaited after the writes and before the commit: the writes travel
    while the gate's work (e.g. the quota reservation) runs, and when it raises, the
    transaction aborts, nothing is stored and its error is raised.

    Raises:
        NotFoundError: the conversation was deleted meanwhile.
    """
    now: datetime = doc["createdAt"]

    async def opened() -> None:
        if gate is not None:
            await asyncio.shield(gate)  # the gate belongs to the caller: never cancelled here

    if expected is not None:
        stored = {**doc, "messageSequence": expected + 1}
        first: list[Write] = [
            conv_repo.next_sequence_if(doc["conversationId"], expected, now, tokens=tokens),
            Insert("messages", stored),
            count_one(doc["conversationId"]),
        ]

        async def known(session: AsyncClientSession) -> dict[str, Any]:
            if (await writes.apply(db, [*first, *also], session=session))[0] == 0:
                raise _Stale
            await opened()
            return stored

        try:
            return await run_in_transaction(db, known)
        except (_Stale, DuplicateKeyError):  # raced by another message or a first-of-day upsert
            pass

    async def work(session: AsyncClientSession) -> dict[str, Any]:
        try:
            seq = await conv_repo.allocate_sequence(
                db, doc["conversationId"], now, session=session, tokens=tokens
            )
        except LookupError:
            raise NotFoundError(
                f"Conversation {doc['conversationId']} no longer exists", field="conversationId"
            ) from None
        stored = {**doc, "messageSequence": seq}
        await writes.apply(
            db,
            [Insert("messages", stored), count_one(doc["conversationId"]), *also],
            session=session,
        )
        await opened()
        return stored

    for attempt in range(3):
        try:
            return await run_in_transaction(db, work)
        except DuplicateKeyError:  # a racing first-of-day usage upsert in `also`: run it again
            if attempt == 2 or not also:
                raise
    raise AssertionError("unreachable")


async def archive_from(
    db: AsyncDatabase,
    conversation_id: str,
    sequence: int,
    *,
    reason: str,
    now: datetime,
    session: AsyncClientSession,
    anchor: dict[str, Any] | None = None,
) -> tuple[str | None, int]:
    """Move messages with messageSequence >= sequence to the archive as one branch (at `now`).

    `anchor` (the pre-edit user message) is archived with them but stays live. Each archived
    doc names the live message the branch continues (`parentId`, `parentSequence`: the last
    one before `sequence`; None and 0 at the start): the version tree groups siblings by it.

    Returns:
        (branchId, number of live messages moved); branchId is None when nothing moved.
    """
    moving = await msg_repo.from_sequence(db, conversation_id, sequence, session=session)
    if anchor is not None:
        moving = [anchor] + [m for m in moving if m["messageId"] != anchor["messageId"]]
    if not moving:
        return None, 0
    branch = msg_repo.new_branch_id()
    parent_id, parent_seq = await msg_repo.parent_before(
        db, conversation_id, sequence, session=session
    )
    parent = {"parentId": parent_id, "parentSequence": parent_seq}
    docs = [
        {
            **m,
            "branchId": branch,
            "archivedAt": now,
            "reason": reason,
            "anchorSequence": sequence,
            **parent,
        }
        for m in moving
    ]
    await msg_repo.archive(db, docs, session=session)
    removed = await msg_repo.delete_from(
        db, conversation_id, sequence + (anchor is not None), session=session
    )
    await conv_repo.add_stats(db, conversation_id, messages=-removed, session=session)
    return branch, removed


async def restore(
    db: AsyncDatabase,
    conversation_id: str,
    branch_id: str,
    *,
    now: datetime,
    reason: str = "restore",
) -> dict[str, Any]:
    """Bring an archived branch back; what it replaces becomes a branch of its own (at `now`).

    The one rule of restoring a branch and of switching to a sibling version: in one
    transaction, every live message after the branch's parent is archived as a new branch
    (same parent), then the branch's messages become live again with their own sequences.

    Raises:
        NotFoundError: no such branch in this conversation.
        ConflictError: the message the branch continues is itself archived.
    """

    async def work(session: AsyncClientSession) -> dict[str, Any]:
        docs = await msg_repo.archived(db, conversation_id, branch_id, session=session)
        if not docs:
            raise NotFoundError(
                f"No archived branch {branch_id!r} in this conversation",
                field="branchId",
                suggestions=["List branches first"],
            )
        start = await _start_of(db, conversation_id, branch_id, docs, session=session)
        replaced, _ = await archive_from(
            db, conversation_id, start, reason=reason, now=now, session=session
        )
        await msg_repo.drop_branch(db, conversation_id, branch_id, session=session)
        restored = [{k: v for k, v in d.items() if k not in ARCHIVE_FIELDS} for d in docs]
        for doc in restored:
            await msg_repo.insert(db, doc, session=session)
        await conv_repo.add_stats(db, conversation_id, messages=len(restored), session=session)
        return {
            "restored": len(restored),
            "branchId": branch_id,
            "replacedBy": replaced,
            "conversationId": conversation_id,
        }

    return await run_in_transaction(db, work)


async def _start_of(
    db: AsyncDatabase,
    conversation_id: str,
    branch_id: str,
    docs: list[dict[str, Any]],
    *,
    session: AsyncClientSession,
) -> int:
    """The first sequence a restore of this branch replaces: right after its parent (the
    anchor for branches archived before parents were recorded)."""
    head = min(docs, key=lambda d: d["messageSequence"])
    if "parentSequence" not in head:
        return min(d["anchorSequence"] for d in docs)
    parent_id = head.get("parentId")
    if parent_id is not None and not await msg_repo.live_sequences(
        db, conversation_id, [parent_id], session=session
    ):
        raise ConflictError(
            f"Branch {branch_id!r} continues message #{head['parentSequence']}, which is "
            "itself archived in another branch",
            field="branchId",
            suggestions=["Restore the branch that holds that message first"],
        )
    return int(head["parentSequence"]) + 1


def group_branches(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Archived docs grouped per branch: {branchId, reason, archivedAt, anchorSequence,
    parentId, parentSequence, messages}."""
    branches: dict[str, dict[str, Any]] = {}
    for doc in docs:
        entry = branches.setdefault(
            doc["branchId"],
            {
                "branchId": doc["branchId"],
                "reason": doc.get("reason"),
                "archivedAt": doc["archivedAt"],
                "anchorSequence": doc.get("anchorSequence"),
                "parentId": doc.get("parentId"),
                "parentSequence": doc.get("parentSequence"),
                "messages": [],
            },
        )
        entry["messages"].append({k: v for k, v in doc.items() if k not in ARCHIVE_FIELDS})
    for entry in branches.values():
        entry["messages"].sort(key=lambda m: m["messageSequence"])
    return list(branches.values())
