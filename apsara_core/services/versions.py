"""The version tree of a conversation, read over its archive.

An edit or a regeneration archives what follows a message as a branch; each archived doc
names the live message the branch continues (its parent). A *fork* is one parent with more
than one continuation: the live one (the current version, when there is one) and each
archived branch with that parent. Versions are numbered 1, 2, … in the order they were made
(a message's createdAt, or its last edit's time), so numbers stay put when the current one
changes. Only forks whose parent is live are shown: the others belong to an archived branch
and appear when it is current again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from apsara_core.repos import messages as msg_repo

PREVIEW = 60
"""Characters of a version's first message shown in a listing."""


def born(message: dict[str, Any]) -> datetime:
    """When this version of a message was made: its last edit, else its creation."""
    edits = message.get("editHistory") or []
    stamps = [e["editedAt"] for e in edits if isinstance(e, dict) and e.get("editedAt")]
    return max(stamps) if stamps else message["createdAt"]


def _preview(message: dict[str, Any]) -> str:
    text = " ".join(((message.get("content") or {}).get("text") or "").split())
    return text if len(text) <= PREVIEW else text[: PREVIEW - 1] + "…"


def _version(
    head: dict[str, Any], *, branch_id: str | None, count: int, reason: str | None
) -> dict[str, Any]:
    return {
        "current": branch_id is None,
        "branchId": branch_id,
        "messageId": head["messageId"],
        "messageSequence": head["messageSequence"],
        "role": head.get("role"),
        "reason": reason,
        "messages": count,
        "preview": _preview(head),
        "createdAt": born(head),
        "_order": (born(head), head["messageSequence"], len(head.get("editHistory") or [])),
    }


async def _branches(db: AsyncDatabase, conversation_id: str) -> list[dict[str, Any]]:
    """Each archived branch as {branchId, parentId, parentSequence, head, count, reason}."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for doc in await msg_repo.archive_heads(db, conversation_id):
        groups.setdefault(doc["branchId"], []).append(doc)
    out = []
    for branch_id, docs in groups.items():
        head = min(docs, key=lambda d: d["messageSequence"])
        if "parentSequence" in head:
            parent_id, parent_seq = head.get("parentId"), int(head["parentSequence"])
        else:  # archived before parents were recorded: the live message before its anchor
            parent_id, parent_seq = await msg_repo.parent_before(
                db, conversation_id, head["anchorSequence"]
            )
        out.append(
            {
                "branchId": branch_id,
                "parentId": parent_id,
                "parentSequence": parent_seq,
                "head": head,
                "count": len(docs),
                "reason": head.get("reason"),
            }
        )
    return out


async def forks(db: AsyncDatabase, conversation_id: str) -> list[dict[str, Any]]:
    """The conversation's forks with a live parent, by parent sequence.

    Each: {parentId, parentSequence, messageId and messageSequence (the live continuation,
    None when nothing live follows the parent), current (its 1-based version number or None),
    versions: [{current, branchId (None for the live one), messageId, messageSequence, role,
    reason, messages, preview, createdAt}]}.
    """
    branches = await _branches(db, conversation_id)
    parents = sorted({b["parentId"] for b in branches if b["parentId"] is not None})
    live = await msg_repo.live_sequences(db, conversation_id, parents)
    by_parent: dict[str | None, list[dict[str, Any]]] = {}
    for branch in branches:
        if branch["parentId"] is None or branch["parentId"] in live:
            by_parent.setdefault(branch["parentId"], []).append(branch)
    out = []
    for parent_id, group in by_parent.items():
        parent_seq = 0 if parent_id is None else live[parent_id]
        versions = [
            _version(b["head"], branch_id=b["branchId"], count=b["count"], reason=b["reason"])
            for b in group
        ]
        follower = await msg_repo.next_after(db, conversation_id, parent_seq)
        if follower is not None:
            count = await msg_repo.count_after(db, conversation_id, parent_seq)
            versions.append(_version(follower, branch_id=None, count=count, reason=None))
        versions.sort(key=lambda v: v.pop("_order"))
        for number, version in enumerate(versions, 1):
            version["version"] = number
        current = next((v["version"] for v in versions if v["current"]), None)
        out.append(
            {
                "parentId": parent_id,
                "parentSequence": parent_seq,
                "messageId": follower["messageId"] if follower else None,
                "messageSequence": follower["messageSequence"] if follower else None,
                "current": current,
                "versions": versions,
            }
        )
    return sorted(out, key=lambda f: f["parentSequence"])


def fork_of(found: list[dict[str, Any]], message_id: str) -> dict[str, Any] | None:
    """The fork whose live continuation starts at `message_id`, else the one after
    `message_id` when nothing live follows it there."""
    for fork in found:
        if fork["messageId"] == message_id:
            return fork
    return next((f for f in found if f["messageId"] is None and f["parentId"] == message_id), None)
