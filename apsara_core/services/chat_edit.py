"""The database part of edit and regenerate: checks first, then one transaction.

The model call happens afterwards in `chat_stream.ReplyRunner.run`, never inside the transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from apsara_core.db.transactions import run_in_transaction
from apsara_core.errors import NotFoundError, ValidationError
from apsara_core.repos import messages as msg_repo
from apsara_core.services import chat_store
from apsara_core.services.conversations import check_id

PROMPT_ROLES = ("user", "tool")


async def find_message(db: AsyncDatabase, conv: dict[str, Any], message_id: Any) -> dict[str, Any]:
    """A message of this conversation.

    Raises:
        ValidationError: the id is not a string.
        NotFoundError: no such message in the conversation.
    """
    mid = check_id(message_id, "messageId")
    msg = await msg_repo.find(db, conv["conversationId"], mid)
    if msg is None:
        raise NotFoundError(f"No message {mid!r} in this conversation", field="messageId")
    return msg


async def editable(db: AsyncDatabase, conv: dict[str, Any], message_id: Any) -> dict[str, Any]:
    """The user message to edit.

    Raises:
        ValidationError: the message is a model or tool message.
    """
    msg = await find_message(db, conv, message_id)
    if msg["role"] != "user":
        raise ValidationError(
            f"Only user messages can be edited; {msg['messageId']} is a "
            f"{msg['role']} message (regenerate a model reply instead)",
            field="messageId",
        )
    return msg


def check_changed(message: dict[str, Any], text: str, files: list[dict[str, str]] | None) -> None:
    """Refuse an edit that changes nothing: the same text (ignoring surrounding blanks) and no
    new files. Saving it would archive every later message for no reason.

    Raises:
        ValidationError: newText equals the message's current text and no files are given.
    """
    current = (message.get("content") or {}).get("text") or ""
    if files is None and text.strip() == current.strip():
        raise ValidationError(
            "newText is the same as the message's current text: nothing to edit "
            "(saving it would only archive the later messages)",
            field="newText",
            suggestions=["Change the text first", "To get a new reply, regenerate it instead"],
        )


async def apply_edit(
    db: AsyncDatabase,
    conv: dict[str, Any],
    message: dict[str, Any],
    text: str,
    files: list[dict[str, str]] | None,
    *,
    now: datetime,
) -> tuple[dict[str, Any], str | None]:
    """Archive what follows the message as a branch and store the new text, in one transaction
    (stamped `now`).

    Returns:
        (the edited message, branchId of the archived messages or None).
    """
    cid = conv["conversationId"]

    async def work(session: AsyncClientSession) -> tuple[dict[str, Any], str | None]:
        current = await msg_repo.find(db, cid, message["messageId"], session=session)
        if current is None:
            raise NotFoundError(
                f"No message {message['messageId']!r} in this conversation", field="messageId"
            )
        branch, _ = await chat_store.archive_from(
            db,
            cid,
            current["messageSequence"],
            reason="edit",
            now=now,
            anchor=current,
            session=session,
        )
        old = {
            "text": current["content"].get("text", ""),
            "files": current.get("files") or [],
            "editedAt": now,
        }
        edited = {
            **current,
            "content": {**current["content"], "text": text},
            "isEdited": True,
            "editHistory": [*current.get("editHistory", []), old],
        }
        if files is not None:
            edited["files"] = files
        await msg_repo.replace(db, edited, session=session)
        return edited, branch

    return await run_in_transaction(db, work)


async def _before(db: AsyncDatabase, conv: dict[str, Any], sequence: int) -> dict[str, Any]:
    """The message a reply at `sequence` answers (a user or tool message)."""
    previous = await msg_repo.window(db, conv["conversationId"], sequence, 1)
    if not previous or previous[-1]["role"] not in PROMPT_ROLES:
        raise ValidationError(
            "This reply does not follow a user or tool message; nothing to regenerate from",
            field="messageId",
        )
    return previous[-1]


async def _reply_after(
    db: AsyncDatabase, conv: dict[str, Any], prompt: dict[str, Any]
) -> dict[str, Any] | None:
    """The model reply right after a user or tool message, or None when none follows."""
    following = await msg_repo.at_sequence(
        db, conv["conversationId"], prompt["messageSequence"] + 1
    )
    return following if following and following["role"] == "model" else None


async def regenerate_target(
    db: AsyncDatabase, conv: dict[str, Any], message_id: Any
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """(the model reply to replace or None, the prompt message to answer).

    message_id may name a model reply, or the user or tool message it answers (then the reply
    that follows it is replaced, or a first one is made when none follows).
    Without message_id: the last reply; when the conversation ends with a user or tool message
    (a failed or never-made call), that message is answered and nothing is archived.

    Raises:
        ValidationError: empty conversation, or message_id is not a model reply.
        NotFoundError: unknown message id.
    """
    if message_id is not None:
        target = await find_message(db, conv, message_id)
        if target["role"] in PROMPT_ROLES:  # the reply that follows it (or a first one)
            return await _reply_after(db, conv, target), target
        if target["role"] != "model":
            raise ValidationError(
                f"Only model replies, or the user or tool message they answer, can be "
                f"regenerated; {target['messageId']} is a {target['role']} message",
                field="messageId",
            )
        return target, await _before(db, conv, target["messageSequence"])
    last = await msg_repo.window(
        db, conv["conversationId"], conv["stats"]["messageSequence"] + 1, 1
    )
    if not last:
        raise ValidationError(
            "The conversation has no messages: nothing to regenerate",
            field="conversationId",
            suggestions=["Send a message first"],
        )
    if last[-1]["role"] in PROMPT_ROLES:
        return None, last[-1]
    return last[-1], await _before(db, conv, last[-1]["messageSequence"])


async def archive_reply(
    db: AsyncDatabase, conv: dict[str, Any], target: dict[str, Any], *, now: datetime
) -> str | None:
    """Archive the reply and everything after it as an earlier version (at `now`); the branchId."""

    async def work(session: AsyncClientSession) -> str | None:
        branch, _ = await chat_store.archive_from(
            db,
            conv["conversationId"],
            target["messageSequence"],
            reason="regenerate",
            now=now,
            session=session,
        )
        return branch

    return await run_in_transaction(db, work)
