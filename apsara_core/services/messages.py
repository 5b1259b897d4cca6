"""MessageService: one conversation's single messages: sibling versions and switching between
them, deleting one message, searching the text.

The actor rule is the conversations' (`load_owned`): the owner, or an admin; another user's
conversation answers NotFoundError like an unknown id. Quotas are never touched here.
"""

from __future__ import annotations

import re
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from apsara_core.clock import Clock
from apsara_core.db.transactions import run_in_transaction
from apsara_core.errors import ConflictError, NotFoundError, ValidationError
from apsara_core.models import Principal
from apsara_core.repos import conversations as conv_repo
from apsara_core.repos import messages as msg_repo
from apsara_core.services import chat_store, versions
from apsara_core.services.conversations import check_id, load_owned
from apsara_core.services.input_checks import check_unicode

SEARCH_MAX = 200
"""Characters of a search query, at most."""
PAGE_MAX = 100
SNIPPET = 80
"""Characters of text shown around a search match."""
PROMPT_ROLES = ("user", "tool")


def _whole(value: Any, field: str, low: int, high: int | None = None) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValidationError(f"{field} must be a whole number of at least {low}", field=field)
    if high is not None and value > high:
        raise ValidationError(f"{field} must be a whole number from {low} to {high}", field=field)
    return value


def _query(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("query must be non-empty text", field="query")
    check_unicode(value, "query")
    if len(value.strip()) > SEARCH_MAX:
        raise ValidationError(f"query must be at most {SEARCH_MAX} characters", field="query")
    return value.strip()


def snippet(text: str, query: str) -> str:
    """About SNIPPET characters of `text` around the first (any-case) match of `query`."""
    flat = " ".join(text.split())
    at = flat.lower().find(query.lower())
    if at < 0:  # the match spans a line break that `flat` folded
        at = 0
    start = max(0, min(at - SNIPPET // 3, len(flat) - SNIPPET))
    end = min(len(flat), start + SNIPPET)
    return ("…" if start else "") + flat[start:end] + ("…" if end < len(flat) else "")


class MessageService:
    """Versions, deletion and search of the messages of one conversation."""

    def __init__(self, *, db: AsyncDatabase, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def versions(self, *, actor: Principal, conversation_id: Any) -> list[dict[str, Any]]:
        """The conversation's forks (see `versions.forks`): every live message with sibling
        versions, the versions numbered in the order they were made."""
        conv = await load_owned(self._db, actor, conversation_id)
        return await versions.forks(self._db, conv["conversationId"])

    async def switch_version(
        self, *, actor: Principal, conversation_id: Any, message_id: Any, to_version: Any
    ) -> dict[str, Any]:
        """Make version `to_version` of the fork at `message_id` current, with its whole
        following branch; the branch that was current is archived as a sibling. One
        transaction, the same rule as restoring a branch (`chat_store.restore`).

        `message_id` is the live message that starts the fork (or, when nothing live follows
        a fork's parent, the parent).

        Returns:
            {switched, version, of, messageId (the live message now starting the fork),
             restored, replacedBy, fork}.

        Raises:
            NotFoundError: unknown message; ValidationError: no other versions, or
            to_version out of range.
        """
        conv = await load_owned(self._db, actor, conversation_id)
        cid, mid = conv["conversationId"], check_id(message_id, "messageId")
        fork = versions.fork_of(await versions.forks(self._db, cid), mid)
        if fork is None:
            if not await msg_repo.find(self._db, cid, mid):
                raise NotFoundError(f"No message {mid!r} in this conversation", field="messageId")
            raise ValidationError(
                f"Message {mid} has no other versions to switch to", field="messageId"
            )
        count = len(fork["versions"])
        target = fork["versions"][_whole(to_version, "toVersion", 1, count) - 1]
        if target["current"]:
            return {
                "switched": False,
                "version": target["version"],
                "of": count,
                "messageId": fork["messageId"],
                "restored": 0,
                "replacedBy": None,
                "fork": fork,
            }
        done = await chat_store.restore(
            self._db, cid, target["branchId"], now=self._clock.now(), reason="switch"
        )
        after = next(
            (f for f in await versions.forks(self._db, cid) if f["parentId"] == fork["parentId"]),
            None,
        )
        return {
            "switched": True,
            "version": after["current"] if after else target["version"],
            "of": len(after["versions"]) if after else count,
            "messageId": target["messageId"],
            "restored": done["restored"],
            "replacedBy": done["replacedBy"],
            "fork": after,
        }

    async def delete_message(
        self, *, actor: Principal, conversation_id: Any, message_id: Any, with_reply: bool = False
    ) -> dict[str, Any]:
        """Delete one live message (owner or admin), in one transaction.

        A user or tool message that a model reply answers is deleted only together with
        that reply (`with_reply`); alone it would leave the reply without its prompt.
        The conversation's and the database's message counts drop by what went; tokens and
        quotas already spent stay counted. Archived versions that continued a deleted
        message now continue the message before it.

        Returns:
            {conversationId, deleted: [{messageId, messageSequence, role}], messages (left)}.

        Raises:
            NotFoundError: no such live message; ConflictError: a reply follows and
            with_reply is not set (the error names the reply).
        """
        conv = await load_owned(self._db, actor, conversation_id)
        cid, mid = conv["conversationId"], check_id(message_id, "messageId")
        db = self._db

        async def work(session: AsyncClientSession) -> list[dict[str, Any]]:
            msg = await msg_repo.find(db, cid, mid, session=session)
            if msg is None:
                raise NotFoundError(f"No message {mid!r} in this conversation", field="messageId")
            doomed = [msg]
            if msg["role"] in PROMPT_ROLES:
                reply = await msg_repo.next_after(db, cid, msg["messageSequence"], session=session)
                if reply is not None and reply["role"] == "model":
                    if not with_reply:
                        raise ConflictError(
                            f"Message #{msg['messageSequence']} is answered by reply "
                            f"#{reply['messageSequence']}; deleting it alone would leave "
                            "the reply without its prompt",
                            field="withReply",
                            suggestions=[
                                "Delete both: withReply=true (CLI: --with-reply)",
                                f"Or delete only the reply #{reply['messageSequence']}",
                            ],
                        )
                    doomed.append(reply)
            parent_id, parent_seq = await msg_repo.parent_before(
                db, cid, msg["messageSequence"], session=session
            )
            ids = [m["messageId"] for m in doomed]
            gone = await msg_repo.delete_ids(db, cid, ids, session=session)
            await conv_repo.add_stats(db, cid, messages=-gone, session=session)
            await msg_repo.reparent(db, cid, ids, parent_id, parent_seq, session=session)
            return doomed

        doomed = await run_in_transaction(db, work)
        left = await conv_repo.find(db, cid)
        return {
            "conversationId": cid,
            "deleted": [
                {
                    "messageId": m["messageId"],
                    "messageSequence": m["messageSequence"],
                    "role": m["role"],
                }
                for m in doomed
            ],
            "messages": int(((left or {}).get("stats") or {}).get("totalMessages") or 0),
        }

    async def search_messages(
        self, *, actor: Principal, conversation_id: Any, query: Any, page: Any = 1, limit: Any = 20
    ) -> dict[str, Any]:
        """One page of the live messages whose text contains `query` (any case), newest first.

        The database filters (a regex on the text, in windows of the conversation's sequence
        index, newest first) and returns at most one page and one more: recent matches never
        read a long conversation whole.

        Returns:
            {query, page, limit, hasMore, items: [{messageId, messageSequence, role,
             createdAt, snippet}]}.
        """
        conv = await load_owned(self._db, actor, conversation_id)
        text = _query(query)
        page = _whole(page, "page", 1)
        limit = _whole(limit, "limit", 1, PAGE_MAX)
        found = await msg_repo.search(
            self._db,
            conv["conversationId"],
            re.escape(text),
            upper=int(conv["stats"]["messageSequence"]) + 1,
            skip=(page - 1) * limit,
            limit=limit,
        )
        return {
            "query": text,
            "page": page,
            "limit": limit,
            "hasMore": len(found) > limit,
            "items": [
                {
                    "messageId": m["messageId"],
                    "messageSequence": m["messageSequence"],
                    "role": m.get("role"),
                    "createdAt": m.get("createdAt"),
                    "snippet": snippet((m.get("content") or {}).get("text") or "", text),
                }
                for m in found[:limit]
            ],
        }
