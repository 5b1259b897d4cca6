"""The history window read alongside the conversation (chat_prefetch): a send's history is the
same as when read after it, whatever another process or an edit did since this one's last send."""

from __future__ import annotations

from typing import Any

from apsara_core.core import Core
from apsara_core.errors import NotFoundError
from apsara_core.models import Principal
from apsara_core.services.chat_prefetch import SLACK
from tests.conftest import opened_core
from tests.core.chat_helpers import new_conv, premium, stored
from tests.factories import create_user, principal_of


def asked(fake: Any) -> list[str]:
    """The user's texts in the last generate request's history, oldest first."""
    last = [r for r in fake.requests if r["model"]][-1]
    return [p["text"] for c in last["body"]["contents"] if c["role"] == "user" for p in c["parts"]]


async def talked(core: Core, *texts: str) -> tuple[Principal, str]:
    """A premium user and a new conversation of theirs where `texts` were sent through `core`."""
    actor = await premium(core)
    cid = await new_conv(core, actor)
    for text in texts:
        await core.chat.generate(actor=actor, conversation_id=cid, text=text)
    return actor, cid


async def test_a_send_sees_what_another_process_stored_since_this_ones_last(
    chat_core: Core, chat_settings, fake_gemini
) -> None:
    actor, cid = await talked(chat_core, "one", "two")  # this process's hint: 4
    async with opened_core(chat_settings, drop=False) as other:  # a second process
        await other.chat.generate(actor=actor, conversation_id=cid, text="three")
    r = await chat_core.chat.generate(actor=actor, conversation_id=cid, text="four")
    assert r["text"].endswith("(turns=7)")
    assert asked(fake_gemini) == ["one", "two", "three", "four"]
    assert [m["messageSequence"] for m in await stored(chat_core, cid)] == list(range(1, 9))


async def test_far_behind_hint_or_edited_history_is_read_again(
    chat_core: Core, chat_settings, fake_gemini
) -> None:
    actor, cid = await talked(chat_core, "first")
    async with opened_core(chat_settings, drop=False) as other:  # over SLACK messages elsewhere
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
    assert asked(fake_gemini) == ["first, again", "after the edit"]


async def test_another_users_conversation_is_refused_with_a_hint_in_place(
    chat_core: Core,
) -> None:
    owner, cid = await talked(chat_core, "mine")
    stranger = principal_of(await create_user(chat_core, "stranger@example.com", plan="premium"))
    try:
        await chat_core.chat.generate(actor=stranger, conversation_id=cid, text="let me see")
    except NotFoundError as exc:
        assert exc.field == "conversationId"
    else:
        raise AssertionError("another user's conversation was not refused")
    assert len(await stored(chat_core, cid)) == 2
