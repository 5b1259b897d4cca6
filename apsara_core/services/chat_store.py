"""Multi-document writes of conversations: appending a message, archiving and restoring branches.

Each runs in one transaction (retried on transient conflicts by pymongo's `with_transaction`),
never with a model call inside.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from apsara_core.errors import NotFoundError
from apsara_core.models.documents import utcnow
from apsara_core.repos import conversations as conv_repo
from apsara_core.repos import messages as msg_repo
from apsara_core.repos import writes
from apsara_core.repos.writes import Insert, Write

if TYPE_CHECKING:
    from apsara_core.core import Core

T = TypeVar("T")
ARCHIVE_FIELDS = ("branchId", "archivedAt", "reason", "anchorSequence", "branchOf")


async def transaction(core: "Core", work: Callable[[AsyncClientSession], Awaitable[T]]) -> T:
    """Run `work(session)` in one transaction, retried on transient errors."""
    return await writes.transaction(core.db, work)


class _Stale(Exception):
    """Another message took the expected sequence first (aborts the fast path's transaction)."""


async def append(core: "Core", doc: dict[str, Any], *, tokens: int = 0, expected: int | None = None,
                 also: Sequence[Write] = ()) -> dict[str, Any]:
    """Give `doc` the next messageSequence and store it, atomically (adding `tokens` to the stats).

    `expected` is the conversation's last sequence as the caller saw it: when nothing came in
    between, the sequence, the message and `also` (e.g. the quota commit's writes) go to the
    server as one bulk write in one transaction, two round trips in all. Otherwise (or without
    `expected`) the sequence is taken and read back first.

    Raises:
        NotFoundError: the conversation was deleted meanwhile.
    """
    now = doc.get("createdAt") or utcnow()
    if expected is not None:
        stored = {**doc, "messageSequence": expected + 1, "createdAt": now}
        first = [conv_repo.next_sequence_if(doc["conversationId"], expected, now, tokens=tokens),
                 Insert("messages", stored)]

        async def known(session: AsyncClientSession) -> dict[str, Any]:
            if (await writes.apply(core.db, [*first, *also], session=session))[0] == 0:
                raise _Stale
            return stored

        try:
            return await transaction(core, known)
        except (_Stale, DuplicateKeyError):  # raced by another message or a first-of-day upsert
            pass

    async def work(session: AsyncClientSession) -> dict[str, Any]:
        try:
            seq = await conv_repo.allocate_sequence(core.db, doc["conversationId"], now,
                                                    session=session, tokens=tokens)
        except LookupError:
            raise NotFoundError(f"Conversation {doc['conversationId']} no longer exists",
                                field="conversationId") from None
        stored = {**doc, "messageSequence": seq, "createdAt": now}
        await writes.apply(core.db, [Insert("messages", stored), *also], session=session)
        return stored

    for attempt in range(3):
        try:
            return await transaction(core, work)
        except DuplicateKeyError:  # a racing first-of-day usage upsert in `also`: run it again
            if attempt == 2 or not also:
                raise
    raise AssertionError("unreachable")


async def archive_from(core: "Core", conversation_id: str, sequence: int, *, reason: str,
                       session: AsyncClientSession, anchor: dict[str, Any] | None = None) -> tuple[str | None, int]:
    """Move messages with messageSequence >= sequence to the archive as one branch.

    `anchor` (the pre-edit user message) is archived with them but stays live.

    Returns:
        (branchId, number of live messages moved); branchId is None when nothing moved.
    """
    moving = await msg_repo.from_sequence(core.db, conversation_id, sequence, session=session)
    if anchor is not None:
        moving = [anchor] + [m for m in moving if m["messageId"] != anchor["messageId"]]
    if not moving:
        return None, 0
    branch = msg_repo.new_branch_id()
    now: datetime = utcnow()
    docs = [{**m, "branchId": branch, "archivedAt": now, "reason": reason,
             "anchorSequence": sequence} for m in moving]
    await msg_repo.archive(core.db, docs, session=session)
    removed = await msg_repo.delete_from(core.db, conversation_id, sequence + (anchor is not None),
                                         session=session)
    await conv_repo.add_stats(core.db, conversation_id, messages=-removed, session=session)
    return branch, removed


async def restore(core: "Core", conversation_id: str, branch_id: str) -> dict[str, Any]:
    """Bring an archived branch back; what it replaces becomes a branch of its own.

    Raises:
        NotFoundError: no such branch in this conversation.
    """
    async def work(session: AsyncClientSession) -> dict[str, Any]:
        docs = await msg_repo.archived(core.db, conversation_id, branch_id, session=session)
        if not docs:
            raise NotFoundError(f"No archived branch {branch_id!r} in this conversation",
                                field="branchId", suggestions=["List branches first"])
        start = min(d["anchorSequence"] for d in docs)
        replaced, _ = await archive_from(core, conversation_id, start, reason="restore", session=session)
        await msg_repo.drop_branch(core.db, conversation_id, branch_id, session=session)
        restored = [{k: v for k, v in d.items() if k not in ARCHIVE_FIELDS} for d in docs]
        for doc in restored:
            await msg_repo.insert(core.db, doc, session=session)
        await conv_repo.add_stats(core.db, conversation_id, messages=len(restored), session=session)
        return {"restored": len(restored), "branchId": branch_id, "replacedBy": replaced,
                "conversationId": conversation_id}

    return await transaction(core, work)


def group_branches(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Archived docs grouped per branch: {branchId, reason, archivedAt, anchorSequence, messages}."""
    branches: dict[str, dict[str, Any]] = {}
    for doc in docs:
        entry = branches.setdefault(doc["branchId"], {
            "branchId": doc["branchId"], "reason": doc.get("reason"), "archivedAt": doc["archivedAt"],
            "anchorSequence": doc.get("anchorSequence"), "messages": []})
        entry["messages"].append({k: v for k, v in doc.items() if k not in ARCHIVE_FIELDS})
    for entry in branches.values():
        entry["messages"].sort(key=lambda m: m["messageSequence"])
    return list(branches.values())
