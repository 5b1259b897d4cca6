"""Nothing lost by accident in the chat screens: stop key, leave/quit asks while a reply streams,
refused messages come back, unchanged edits are refused, restore acts on the first row,
and a reply that did not end normally says why (issue 15, defects 1–9)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from textual.widgets import OptionList, Static, TextArea

from apsara_core.core import Core
from apsara_core.errors import RateLimitError
from apsara_tui.app import ApsaraApp
from apsara_tui.screens.chat import ChatScreen
from apsara_tui.screens.chat_edit import EditMessageScreen
from apsara_tui.widgets.chat_input import ChatInput
from apsara_tui.widgets.chat_log import ChatLog
from apsara_tui.widgets.confirm import ConfirmModal
from tests.factories import principal_of
from tests.tui.test_chat_screens import chosen, painted, settle, stored, text_of, views


async def streaming(app: ApsaraApp, pilot) -> None:
    """Wait until the reply shows text while still streaming."""
    log = app.screen.query_one(ChatLog)
    for _ in range(2000):
        if log.views and log.views[-1].streaming and log.views[-1].text:
            return
        await pilot.pause(0.01)
    raise AssertionError("the reply never started streaming")


@asynccontextmanager
async def chat_with_long_replies(app: ApsaraApp, core: Core, fake_gemini) -> AsyncIterator[Any]:
    """The chat (action 4) open on a new conversation whose replies stream 3,000 chunks."""
    await chosen(app, core)
    fake_gemini.headers.update({"x-fake-chunks": "3000", "x-fake-chunk-delay-ms": "8"})
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_action(4)
        await settle(app, pilot)
        yield pilot


async def test_stop_key_keeps_the_partial_reply_and_quit_asks_first(
    chat_app: ApsaraApp, core: Core, fake_gemini
) -> None:
    async with chat_with_long_replies(chat_app, core, fake_gemini) as pilot:
        conv_id = chat_app.current_conversation.conversation_id
        chat_app.screen.query_one(ChatInput).text = "tell me a long story"
        await pilot.press("enter")
        await streaming(chat_app, pilot)
        await pilot.press("ctrl+q")  # quitting mid-reply asks first; "n" stays
        await pilot.pause()
        assert isinstance(chat_app.screen, ConfirmModal)
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(chat_app.screen, ChatScreen) and chat_app.screen.replying
        await pilot.press("ctrl+c")
        await settle(chat_app, pilot)
        assert not chat_app.screen.replying
        reply = views(chat_app)[-1]
        assert reply.sequence == 2 and reply.text
        assert "interrupted" in text_of(reply.query_one(".usage", Static))
        assert not chat_app.screen.query_one(ChatInput).locked
        assert any("partial reply is kept" in n.message for n in chat_app._notifications)
    user_msg, model_msg = await stored(core, conv_id)
    assert model_msg["metadata"]["status"] == "interrupted" and model_msg["content"]["text"]


async def test_closing_a_screens_stream_stores_the_partial_reply_at_once(
    chat_app: ApsaraApp, core: Core, fake_gemini
) -> None:
    """A stop can land in the screen's own code, between two chunks: closing the screen's
    stream then closes the core's, so the partial reply is stored before the worker ends
    (not later by the garbage collector, after the window was reloaded)."""
    async with chat_with_long_replies(chat_app, core, fake_gemini):
        conv_id = chat_app.current_conversation.conversation_id
        screen = chat_app.screen
        assert isinstance(screen, ChatScreen)
        events = screen.speaking(
            lambda me: core.chat.stream(actor=me, conversation_id=conv_id, text="a long story")
        )
        async for event in events:
            if event.kind == "text":
                break
        await events.aclose()
        user_msg, model_msg = await stored(core, conv_id)
        assert model_msg["metadata"]["status"] == "interrupted" and model_msg["content"]["text"]


async def test_a_reply_cut_by_max_tokens_says_so(chat_app: ApsaraApp, core: Core, fake_gemini):
    await chosen(chat_app, core)
    fake_gemini.script("max_tokens")
    async with chat_app.run_test(size=(80, 24)) as pilot:
        chat_app.open_action(4)
        await settle(chat_app, pilot)
        chat_app.screen.query_one(ChatInput).text = "write a lot"
        await pilot.press("enter")
        await settle(chat_app, pilot)
        usage = text_of(views(chat_app)[-1].query_one(".usage", Static))
        assert "max tokens" in usage and "cut off" in usage
        chat_app.screen.query_one(ChatInput).text = "again"  # a normal stop says nothing more
        await pilot.press("enter")
        await settle(chat_app, pilot)
        assert "⚠" not in text_of(views(chat_app)[-1].query_one(".usage", Static))


async def test_a_refused_message_is_marked_not_sent_and_comes_back(
    chat_app: ApsaraApp, core: Core
) -> None:
    user = await chosen(chat_app, core, plan="free")
    for _ in range(200):
        try:
            await core.limits.reserve(actor=principal_of(user), model="gemini-2.5-flash")
        except RateLimitError:
            break
    else:
        pytest.fail("the free plan never refused")
    async with chat_app.run_test(size=(80, 24)) as pilot:
        chat_app.open_action(4)
        await settle(chat_app, pilot)
        chat_app.screen.query_one(ChatInput).text = "one more?"
        await pilot.press("enter")
        await settle(chat_app, pilot)
        mine = views(chat_app)[-2]
        assert "not sent" in text_of(mine.query_one(".role", Static)) and mine.sequence is None
        assert chat_app.screen.query_one(ChatInput).text == "one more?"


async def test_an_unchanged_edit_is_refused_and_restore_acts_on_the_first_row(
    chat_app: ApsaraApp, core: Core
) -> None:
    user = await chosen(chat_app, core)
    conv_id = chat_app.current_conversation.conversation_id
    for text in ("first question", "second question"):
        await core.chat.generate(actor=principal_of(user), conversation_id=conv_id, text=text)
    before = await stored(core, conv_id)
    async with chat_app.run_test(size=(80, 24)) as pilot:
        chat_app.open_action(6)
        await settle(chat_app, pilot)
        screen = chat_app.screen
        assert isinstance(screen, EditMessageScreen)
        assert screen.query_one("#branches", OptionList).disabled  # Tab skips the empty list
        screen.query_one("#pick", OptionList).highlighted = 1
        await pilot.press("enter")  # Enter on a message: the editor takes the focus
        await pilot.pause()
        assert chat_app.focused is screen.query_one("#edit-text", TextArea)
        await pilot.press("ctrl+s")  # unchanged: the core refuses, nothing is archived
        await settle(chat_app, pilot)
        assert isinstance(chat_app.screen, EditMessageScreen)
        assert any("nothing to edit" in n.message for n in chat_app._notifications)
        assert await stored(core, conv_id) == before
        await core.chat.edit(
            actor=principal_of(user),
            conversation_id=conv_id,
            message_id=before[0]["messageId"],
            new_text="a better question",
        )
        screen.reload()
        await settle(chat_app, pilot)
        await pilot.press("ctrl+r")  # the cursor never moved: the first row counts
        await pilot.pause()
        assert isinstance(chat_app.screen, ConfirmModal)


async def test_help_lists_the_chat_keys_and_the_global_ones(chat_app: ApsaraApp, core: Core):
    await chosen(chat_app, core)
    async with chat_app.run_test(size=(80, 24)) as pilot:
        chat_app.open_action(4)
        await settle(chat_app, pilot)
        assert chat_app.screen.title == "4. Send message to AI"  # the header names the action
        await pilot.press("f1")
        await pilot.pause()
        here = painted(chat_app.screen.query_one("#help-screen", Static))
        everywhere = painted(chat_app.screen.query_one("#help-global", Static))
        assert "Help · 4. Send message to AI" in str(
            chat_app.screen.query_one("#help-title", Static).render()
        )
        for words in ("Stop reply", "New line", "Send", "Panel"):
            assert words in here, words
        assert "Quit" in everywhere and "Command palette" in everywhere
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(chat_app.screen, ChatScreen)


async def test_thoughts_fold_and_replies_copy_from_the_keyboard(chat_app: ApsaraApp, core: Core):
    await chosen(chat_app, core)
    async with chat_app.run_test(size=(80, 24)) as pilot:
        chat_app.open_action(4)
        await settle(chat_app, pilot)
        chat_app.screen.query_one(ChatInput).text = "think first"
        await pilot.press("enter")
        await settle(chat_app, pilot)
        reply = views(chat_app)[-1]
        box = reply.query_one("Collapsible")
        folded = box.collapsed
        await pilot.press("ctrl+o")  # from the message box: the newest reply's thoughts
        assert box.collapsed is not folded
        await pilot.press("ctrl+y")
        assert "Echo: think first" in chat_app.clipboard
        log = chat_app.screen.query_one(ChatLog)
        log.focus()
        await pilot.press("up", "up")  # select your message, then copy it
        assert log.selected is views(chat_app)[0]
        await pilot.press("c")
        assert chat_app.clipboard == "think first"


async def test_rename_and_export_from_the_chat(chat_app: ApsaraApp, core: Core, tmp_path) -> None:
    import json

    from textual.widgets import Input

    user = await chosen(chat_app, core)
    conv_id = chat_app.current_conversation.conversation_id
    await core.chat.generate(actor=principal_of(user), conversation_id=conv_id, text="hello")
    async with chat_app.run_test(size=(80, 24)) as pilot:
        chat_app.open_action(4)
        await settle(chat_app, pilot)
        await pilot.press("ctrl+n")
        await pilot.pause()
        chat_app.screen.query_one(Input).value = "Trip planning"
        await pilot.press("enter")
        await settle(chat_app, pilot)
        assert chat_app.current_conversation.title == "Trip planning"
        for name in ("trip.json", "trip.md"):
            await pilot.press("ctrl+g")
            await pilot.pause()
            chat_app.screen.query_one(Input).value = str(tmp_path / name)
            await pilot.press("enter")
            await settle(chat_app, pilot)
    assert json.loads((tmp_path / "trip.json").read_text())["conversation"]["title"] == (
        "Trip planning"
    )
    assert (tmp_path / "trip.md").read_text().startswith("# Trip planning")
    assert (await core.db.conversations.find_one({"_id": conv_id}))["title"] == "Trip planning"
