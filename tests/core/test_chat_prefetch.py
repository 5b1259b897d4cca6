"""The history window read alongside the conversation (chat_prefetch): a send's history is the
same as when read after it, whatever another process or an edit did since this one's last send."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from apsara_core.config import Settings
from apsara_core.core import Core, open_core
from apsara_core.errors import NotFoundError
from apsara_core.services.chat_prefetch import SLACK
from tests.core.chat_helpers import new_conv, premium, stored
from tests.factories import create_user, principal_of


@asynccontextmanager
async def other_process(settings: Settings) -> AsyncIterator[Core]:
    """A second Core on the same database (as another process holds), closed afterwards."""
    other = await open_core(settings)
    try:
        yield other
    finally:
        await other.settle()
        await other.close()


def sent_texts(fake: Any) -> list[str]:
    """The texts of the last generate request's contents, oldest first."""
    last = [r for r in fake.requests if r["model"]][-1]
    return [p["text"] for c in last["body"]["contents"] for p in c["parts"] if "text" in p]


async def test_a_send_sees_what_another_process_stored_since_this_ones_last(
    chat_core: Core, chat_settings, fake_gemini
) -> None:
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor)
    await chat_core.chat.generate(actor=actor, conversation_id=cid, text="one")
    await chat_core.chat.generate(actor=actor, conversation_id=cid, text="two")  # hint: 4
    async with other_process(chat_settings) as other:  # a second process on the same database
        await other.chat.generate(actor=actor, conversation_id=cid, text="three")
    r = await chat_core.chat.generate(actor=actor, conversation_id=cid, text="four")
    assert r["text"].endswith("(turns=7)")
    assert [t for t in sent_texts(fake_gemini) if not t.startswith("Echo")] == [
        "one",
        "two",
        "three",
        "four",
    ]
    assert [m["messageSequence"] for m in await stored(chat_core, cid)] == list(range(1, 9))


async def test_far_behind_hint_or_edited_history_is_read_again(
    chat_core: Core, chat_settings, fake_gemini
) -> None:
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor)
    await chat_core.chat.generate(actor=actor, conversation_id=cid, text="first")
    async with other_process(chat_settings) as other:  # more than SLACK messages elsewhere
        for i in range(SLACK // 2 + 1):
            await other.chat.generate(actor=actor, conversation_id=cid, text=f"elsewhere {i}")
    r = await chat_core.chat.generate(actor=actor, conversation_id=cid, text="back")
    assert r["text"].endswith(f"(turns={2 * (SLACK // 2 + 2) + 1})")
    first = (await stored(chat_core, cid))[0]
    await chat_core.chat.edit(  # archives everything after the first message
        actor=actor, conversation_id=cid, message_id=first["messageId"], new_text="first, again"
    )
    r = await chat_core.chat.generate(actor=actor, conversation_id=cid, text="after the edit")
    assert r["text"].endswith("(turns=3)")
    assert [t for t in sent_texts(fake_gemini) if not t.startswith("Echo")] == [
        "first, again",
        "after the edit",
    ]


async def test_another_users_conversation_is_refused_with_a_hint_in_place(
    chat_core: Core,
) -> None:
    owner = await premium(chat_core)
    cid = await new_conv(chat_core, owner)
    await chat_core.chat.generate(actor=owner, conversation_id=cid, text="mine")
    stranger = principal_of(await create_user(chat_core, "stranger@example.com", plan="premium"))
    try:
        await chat_core.chat.generate(actor=stranger, conversation_id=cid, text="let me see")
    except NotFoundError as exc:
        assert exc.field == "conversationId"
    else:
        raise AssertionError("another user's conversation was not refused")
    assert len(await stored(chat_core, cid)) == 2
