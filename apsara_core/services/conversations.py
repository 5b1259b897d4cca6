"""ConversationService: create, list, show, update, delete, messages, export, branches.

Conversations belong to `actor.user_id`; admins may see and delete anyone's. Another user's
conversation answers NotFoundError exactly like an unknown id.
"""

from __future__ import annotations

import builtins
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from apsara_core.clock import Clock
from apsara_core.config import Settings
from apsara_core.db.transactions import run_in_transaction
from apsara_core.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from apsara_core.jsonable import dumps
from apsara_core.models import Principal
from apsara_core.models.documents import Conversation, ConversationConfig
from apsara_core.models.views import (
    ConversationPage,
    ConversationsSummary,
    ConversationView,
    system_instruction_of,
)
from apsara_core.repos import conversations as conv_repo
from apsara_core.repos import messages as msg_repo
from apsara_core.repos import users as user_repo
from apsara_core.services import chat_store
from apsara_core.services.hints import LIST_CONVERSATIONS
from apsara_core.services.input_checks import check_unicode
from apsara_core.services.limits import LimitsService
from apsara_core.vocabulary import TITLE_MAX_LENGTH

MAX_PAGE = 1000
MAX_SEARCH = 100
OWNER_MATCHES = 50  # owners whose email matches a search, at most
SUMMARY_BOUND = 1000  # "delete all" counts this many conversations, then says "at least"
SUMMARY_TITLES = 10
EXPORT_FORMATS = ("json", "markdown")


def check_id(value: Any, field: str) -> str:
    """A public id given as a non-empty string (operator objects are refused).

    Raises:
        ValidationError: naming the field.
    """
    if not isinstance(value, str) or not value.strip() or len(value) > 100:
        raise ValidationError(
            f"{field} must be an id string; got {type(value).__name__}", field=field
        )
    return check_unicode(value, field).strip()


def _title(value: Any) -> str:
    if not isinstance(value, str) or not check_unicode(value, "title").strip():
        raise ValidationError("title must be a non-empty string", field="title")
    if len(value.strip()) > TITLE_MAX_LENGTH:
        raise ValidationError(f"title must be at most {TITLE_MAX_LENGTH} characters", field="title")
    return value.strip()


def _system_instruction(value: Any, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError("systemInstruction must be a string", field="systemInstruction")
    check_unicode(value, "systemInstruction")
    if len(value) > limit:
        raise ValidationError(
            f"systemInstruction must be at most {limit} characters", field="systemInstruction"
        )
    return value.strip() or None


def _paging(limit: Any, skip: Any) -> tuple[int, int]:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_PAGE:
        raise ValidationError(f"limit must be a whole number from 1 to {MAX_PAGE}", field="limit")
    if not isinstance(skip, int) or isinstance(skip, bool) or skip < 0:
        raise ValidationError("skip must be a whole number of at least 0", field="skip")
    return limit, skip


def _search(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value.strip()) > MAX_SEARCH:
        raise ValidationError(
            f"search must be text of at most {MAX_SEARCH} characters", field="search"
        )
    return value.strip() or None


async def load_owned(db: AsyncDatabase, actor: Principal, conversation_id: Any) -> dict[str, Any]:
    """The conversation when the actor may see it.

    Raises:
        ValidationError: the id is not a string.
        NotFoundError: unknown, or another user's (for non-admins).
    """
    cid = check_id(conversation_id, "conversationId")
    conv = await conv_repo.find(db, cid)
    if conv is None or (conv["userId"] != actor.user_id and not actor.is_admin):
        raise NotFoundError(
            f"No conversation {cid!r}",
            field="conversationId",
            suggestions=[LIST_CONVERSATIONS],
        )
    return conv


def _scope(actor: Principal, user_id: Any) -> str | None:
    """Whose conversations a list/delete-all covers (None: everyone's, admins only)."""
    if user_id is not None:
        user_id = check_id(user_id, "userId")
    if actor.is_admin:
        return user_id
    if user_id not in (None, actor.user_id):
        raise PermissionDeniedError(
            "Only admins may act on another user's conversations", field="userId"
        )
    return actor.user_id


class ConversationService:
    """Conversations and their messages: create, list, browse, show, rename, delete, export,
    archived branches."""

    def __init__(
        self, *, db: AsyncDatabase, settings: Settings, limits: LimitsService, clock: Clock
    ) -> None:
        self._db = db
        self._settings = settings
        self._limits = limits
        self._clock = clock

    async def create(
        self, *, actor: Principal, title: Any, system_instruction: Any = None
    ) -> dict[str, Any]:
        """Create a conversation owned by the actor.

        Raises:
            ValidationError: empty or over-long title, or a non-string system instruction.
        """
        rest: dict[str, Any] = {}
        if (
            instruction := _system_instruction(system_instruction, self._settings.max_message_chars)
        ) is not None:
            rest["systemInstruction"] = instruction
        now = self._clock.now()
        doc = Conversation(
            conversationId=conv_repo.new_conversation_id(),
            userId=actor.user_id,
            ownerEmail=None if actor.is_guest else actor.email,
            title=_title(title),
            config=ConversationConfig(rest=rest),
            createdAt=now,
            updatedAt=now,
        ).to_mongo()
        doc["stats"]["lastActivity"] = doc["createdAt"]
        await conv_repo.insert(self._db, doc)
        await self._limits.record_conversation(user_id=actor.user_id)
        return await conv_repo.find(self._db, doc["conversationId"]) or doc

    async def list(
        self,
        *,
        actor: Principal,
        user_id: Any = None,
        limit: Any = 50,
        skip: Any = 0,
        everyone: bool = False,
    ) -> list[dict[str, Any]]:
        """Own conversations, newest first; admins: everyone's, or user_id's.

        Raises:
            PermissionDeniedError: `everyone` asked by a non-admin.
        """
        if everyone and not actor.is_admin:
            raise PermissionDeniedError(
                "Only admins may list everyone's conversations", field="--all"
            )
        limit, skip = _paging(limit, skip)
        return await conv_repo.list_for(
            self._db, _scope(actor, user_id), limit=limit, skip=skip, now=self._clock.now()
        )

    async def browse(
        self,
        *,
        actor: Principal,
        user_id: Any = None,
        search: Any = None,
        limit: Any = 50,
        skip: Any = 0,
    ) -> ConversationPage:
        """One page of conversation views, newest activity first: the actor's own; admins
        everyone's (no user_id) or user_id's.

        Args:
            search: a title (any case, anywhere in it), a conversation id, or, in everyone's
                list, the start of the owner's email.

        Raises:
            ValidationError: bad paging or search; PermissionDeniedError: another user's.
        """
        limit, skip = _paging(limit, skip)
        scope, text = _scope(actor, user_id), _search(search)
        owners = None
        if text and scope is None:
            owners = await user_repo.ids_by_email_prefix(self._db, text, limit=OWNER_MATCHES)
        query = conv_repo.listing_filter(scope, search=text, owner_ids=owners)
        docs = await conv_repo.page(
            self._db, query, skip=skip, limit=limit + 1, now=self._clock.now()
        )
        return ConversationPage(
            items=tuple(await self._views(docs[:limit])),
            skip=skip,
            limit=limit,
            has_more=len(docs) > limit,
            search=text,
        )

    async def view(self, *, actor: Principal, conversation_id: Any) -> ConversationView:
        """One conversation's view (NotFoundError for unknown or another user's)."""
        conv = await load_owned(self._db, actor, conversation_id)
        return (await self._views([conv]))[0]

    async def _views(self, docs: builtins.list[dict[str, Any]]) -> builtins.list[ConversationView]:
        """Views of `docs`: the owner's email stored with the conversation (a registered
        user's never changes; their conversations go with the account), else those of the
        others fetched in one query (guests, whose address changes when they register, and
        conversations stored before the email was)."""
        unknown = sorted({d["userId"] for d in docs if not d.get("ownerEmail")})
        emails = await user_repo.emails_by_id(self._db, unknown)
        return [
            ConversationView.of(d, d.get("ownerEmail") or emails.get(d["userId"])) for d in docs
        ]

    async def summary(self, *, actor: Principal, user_id: Any = None) -> ConversationsSummary:
        """What `delete_all` with the same arguments would remove, counted up to
        SUMMARY_BOUND conversations (reading only their titles and message counts)."""
        docs = await conv_repo.first_of(self._db, _scope(actor, user_id), limit=SUMMARY_BOUND + 1)
        counted = docs[:SUMMARY_BOUND]
        return ConversationsSummary(
            conversations=len(counted),
            messages=sum(int((d.get("stats") or {}).get("totalMessages") or 0) for d in counted),
            titles=tuple(str(d.get("title") or "") for d in counted[:SUMMARY_TITLES]),
            at_least=len(docs) > SUMMARY_BOUND,
        )

    async def get(self, *, actor: Principal, conversation_id: Any) -> dict[str, Any]:
        """One conversation (NotFoundError for unknown or another user's)."""
        return await load_owned(self._db, actor, conversation_id)

    async def update(
        self,
        *,
        actor: Principal,
        conversation_id: Any,
        title: Any = None,
        system_instruction: Any = None,
    ) -> dict[str, Any]:
        """Rename and/or set the system instruction (only before the first message).

        Raises:
            ConflictError: changing the system instruction after the first message.
        """
        conv = await load_owned(self._db, actor, conversation_id)
        fields: dict[str, Any] = {"updatedAt": self._clock.now()}
        guard: dict[str, Any] = {}
        if title is not None:
            fields["title"] = _title(title)
        if system_instruction is not None:
            fields["config.rest.systemInstruction"] = _system_instruction(
                system_instruction, self._settings.max_message_chars
            )
            guard = {"stats.messageSequence": 0}
        updated = await conv_repo.set_fields(self._db, conv["conversationId"], fields, guard=guard)
        if updated is None:
            raise ConflictError(
                "The system instruction is fixed once the conversation has messages",
                field="systemInstruction",
                suggestions=["Create a new conversation with another system instruction"],
            )
        return updated

    async def delete(self, *, actor: Principal, conversation_id: Any) -> dict[str, Any]:
        """Delete a conversation with its messages and archive."""
        conv = await load_owned(self._db, actor, conversation_id)
        return await self._delete_ids([conv["conversationId"]])

    async def delete_all(self, *, actor: Principal, user_id: Any = None) -> dict[str, Any]:
        """Delete every conversation of a user (admins without user_id: of everyone)."""
        scope = _scope(actor, user_id)
        ids = await conv_repo.ids_of_user(self._db, scope)
        return await self._delete_ids(ids)

    async def _delete_ids(self, ids: builtins.list[str]) -> dict[str, Any]:
        if not ids:
            return {"conversations": 0, "messages": 0}

        async def work(session: AsyncClientSession) -> dict[str, Any]:
            messages = await msg_repo.delete_conversations(self._db, ids, session=session)
            count = await conv_repo.delete(self._db, ids, session=session)
            return {"conversations": count, "messages": messages}

        return await run_in_transaction(self._db, work)

    async def messages(
        self,
        *,
        actor: Principal,
        conversation_id: Any,
        before_sequence: Any = None,
        limit: Any = 50,
    ) -> builtins.list[dict[str, Any]]:
        """Messages ascending: the newest `limit`, or the `limit` before before_sequence."""
        conv = await load_owned(self._db, actor, conversation_id)
        limit, _ = _paging(limit, 0)
        upper = conv["stats"]["messageSequence"] + 1
        if before_sequence is not None:
            if not isinstance(before_sequence, int) or isinstance(before_sequence, bool):
                raise ValidationError(
                    "before_sequence must be a whole number", field="beforeSequence"
                )
            upper = min(upper, before_sequence)
        return await msg_repo.window(self._db, conv["conversationId"], upper, limit)

    async def later_count(self, *, actor: Principal, conversation_id: Any, message_id: Any) -> int:
        """How many messages follow `message_id`: what an edit of it (or a regeneration of it)
        would archive, so a front end can say so before it asks.

        Raises:
            NotFoundError: no such message in the actor's conversation.
        """
        conv = await load_owned(self._db, actor, conversation_id)
        mid = check_id(message_id, "messageId")
        msg = await msg_repo.find(self._db, conv["conversationId"], mid)
        if msg is None:
            raise NotFoundError(f"No message {mid!r} in this conversation", field="messageId")
        return await msg_repo.count_after(self._db, conv["conversationId"], msg["messageSequence"])

    async def export(self, *, actor: Principal, conversation_id: Any, fmt: Any = "json") -> str:
        """The whole conversation as JSON or Markdown text."""
        if fmt not in EXPORT_FORMATS:
            raise ValidationError(
                f"format must be one of {', '.join(EXPORT_FORMATS)}", field="format"
            )
        conv = await load_owned(self._db, actor, conversation_id)
        upper = conv["stats"]["messageSequence"] + 1
        msgs = await msg_repo.window(self._db, conv["conversationId"], upper, upper)
        if fmt == "json":
            return dumps({"conversation": conv, "messages": msgs})
        return _markdown(conv, msgs)

    async def branches(
        self, *, actor: Principal, conversation_id: Any
    ) -> builtins.list[dict[str, Any]]:
        """Archived branches (earlier versions from edit and regenerate), oldest first."""
        conv = await load_owned(self._db, actor, conversation_id)
        docs = await msg_repo.archived(self._db, conv["conversationId"])
        return chat_store.group_branches(docs)

    async def restore_branch(
        self, *, actor: Principal, conversation_id: Any, branch_id: Any
    ) -> dict[str, Any]:
        """Bring an archived branch back; the messages it replaces are archived in turn."""
        conv = await load_owned(self._db, actor, conversation_id)
        return await chat_store.restore(
            self._db, conv["conversationId"], check_id(branch_id, "branchId"), now=self._clock.now()
        )


def _markdown(conv: dict[str, Any], msgs: list[dict[str, Any]]) -> str:
    lines = [
        f"# {conv['title']}",
        "",
        f"- Conversation: `{conv['conversationId']}`",
        f"- Created: {conv['createdAt'].isoformat()}",
    ]
    if instruction := system_instruction_of(conv):
        lines += ["", "> System instruction: " + instruction.replace("\n", "\n> ")]
    for m in msgs:
        who = {"user": "User", "model": "Model", "tool": "Tool"}.get(m["role"], m["role"])
        lines += ["", f"## {who} (#{m['messageSequence']})", ""]
        thoughts = (m.get("content") or {}).get("thoughts")
        if thoughts:
            lines += ["<details><summary>Thoughts</summary>", "", thoughts, "", "</details>", ""]
        lines.append((m.get("content") or {}).get("text", ""))
        if (m.get("metadata") or {}).get("status") == "interrupted":
            lines += ["", "_(interrupted)_"]
    return "\n".join(lines) + "\n"
