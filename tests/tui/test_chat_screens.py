"""Chat screens against FakeGemini and the embedded server: chat (4), messages (5), edit (6), regenerate (20)."""

from __future__ import annotations

import pytest
from textual.widgets import Collapsible, Input, OptionList, Static, TextArea

from apsara_core.core import Core
from apsara_core.errors import RateLimitError
from apsara_core.models.views import ConversationView
from apsara_tui.app import ApsaraApp
from apsara_tui.screens.chat import ChatScreen, MessagesScreen
from apsara_tui.screens.chat_edit import EditMessageScreen, RegenerateScreen
from apsara_tui.screens.home import HomeScreen
from apsara_tui.widgets.chat_input import ChatInput
from apsara_tui.widgets.chat_log import WINDOW, ChatLog, MessageView
from apsara_tui.widgets.confirm import ConfirmModal
from apsara_tui.widgets.model_panel import ModelPanel
from tests.factories import principal_of
from tests.tui.account_helpers import drained
from tests.tui.chat_fixtures import chat_user, seed_conversation


async def settle(app: ApsaraApp, pilot) -> None:
    """Let workers (streams included) finish and the screen repaint."""
    await drained(pilot)
    await pilot.pause(0.1)


def text_of(widget: Static) -> str:
    return str(widget.render())


def painted(widget: Static) -> str:
    """What the widget shows on screen, line by line."""
    return "\n".join(widget.render_line(y).text for y in range(widget.size.height))


def views(app: ApsaraApp, selector: str = "ChatLog") -> list[MessageView]:
    return app.screen.query_one(selector, ChatLog).views


async def chosen(app: ApsaraApp, core: Core, *, plan: str = "premium", title: str = "Talk") -> dict:
    user = await chat_user(core, plan=plan)
    conv = await core.conversations.create(actor=principal_of(user), title=title)
    app.current_user, app.current_conversation = user, ConversationView.of(conv)
    return user


async def stored(core: Core, conv_id: str) -> list[dict]:
    return (
        await core.db.messages.find({"conversationId": conv_id})
        .sort("messageSequence", 1)
        .to_list()
    )


def warnings(app: ApsaraApp) -> list[str]:
    return [n.message for n in app._notifications if n.severity == "warning"]


async def test_chat_screens_open_only_with_a_user_and_their_conversation(
    chat_app: ApsaraApp, core: Core
) -> None:
    async with chat_app.run_test(size=(80, 24)) as pilot:
        for number in (4, 5, 6, 20):  # every chat screen: the app says why, the screen stays shut
            chat_app.open_action(number)
            await settle(chat_app, pilot)
            assert isinstance(chat_app.screen, HomeScreen)
            assert "Choose a user first (action 10)." in warnings(chat_app)[-1]
        chat_app.current_user = await chat_user(core)
        chat_app.open_action(4)
        await settle(chat_app, pilot)
        assert isinstance(chat_app.screen, HomeScreen)
        assert "Choose a conversation first (action 3)" in warnings(chat_app)[-1]
        other = await chat_user(core, "other@example.com")
        chat_app.current_conversation = ConversationView.of(
            await core.conversations.create(actor=principal_of(other), title="theirs")
        )
        chat_app.open_action(5)
        await settle(chat_app, pilot)
        assert isinstance(chat_app.screen, HomeScreen)
        assert "belongs to another user" in warnings(chat_app)[-1]


async def test_streamed_reply_with_thoughts_usage_and_quota(
    chat_app: ApsaraApp, core: Core
) -> None:
    await chosen(chat_app, core)
    conv_id = chat_app.current_conversation.conversation_id
    async with chat_app.run_test(size=(80, 24)) as pilot:
        chat_app.open_action(4)
        await settle(chat_app, pilot)
        assert isinstance(chat_app.screen, ChatScreen)
        assert "2.5-flash: 100/100" in text_of(chat_app.screen.query_one("#quota", Static))
        await pilot.press("a", "shift+enter", "b")
        assert chat_app.screen.query_one(ChatInput).text == "a\nb"
        chat_app.screen.query_one(ChatInput).text = "hello there"
        await pilot.press("enter")
        await settle(chat_app, pilot)
        user_view, reply = views(chat_app)
        assert "hello there" in text_of(user_view.query_one(".body", Static))
        thoughts = reply.query_one(Collapsible)
        assert thoughts.display and thoughts.has_class("thoughts")
        assert "Thinking about: hello there" in text_of(
            thoughts.query_one(".thoughts-text", Static)
        )
        body = reply.query_one(".body", Static)
        assert "Echo: hello there" in painted(body) and "Echo: hello there" in reply.text
        usage = text_of(reply.query_one(".usage", Static))
        assert "tokens" in usage and "total" in usage and "ms" in usage
        assert not chat_app.screen.query_one(ChatInput).locked
        assert chat_app.screen.query_one(ChatInput).text == ""
        assert "2.5-flash: 99/100" in text_of(chat_app.screen.query_one("#quota", Static))
    user_msg, model_msg = await stored(core, conv_id)
    assert user_msg["content"]["text"] == "hello there"
    assert "Echo: hello there" in model_msg["content"]["text"]
    assert model_msg["content"]["thoughts"].startswith("Thinking about")
    assert model_msg["metadata"]["status"] == "complete"
    assert model_msg["config"]["thinkingConfig"]["includeThoughts"] is True


async def test_panel_config_is_sent_and_bad_values_are_refused(
    chat_app: ApsaraApp, core: Core, fake_gemini
) -> None:
    await chosen(chat_app, core)
    conv_id = chat_app.current_conversation.conversation_id
    async with chat_app.run_test(size=(80, 24)) as pilot:
        chat_app.open_action(4)
        await settle(chat_app, pilot)
        screen = chat_app.screen
        panel = screen.query_one(ModelPanel)
        await pilot.press("ctrl+t")  # from the message box: hide the panel, then show it again
        assert not panel.display and screen.query_one(ChatInput).text == ""
        await pilot.press("ctrl+t")
        assert panel.display
        screen.query_one("#temperature", Input).value = "7"
        screen.query_one(ChatInput).text = "hot"
        await pilot.press("enter")
        await settle(chat_app, pilot)
        assert any("temperature" in n.message for n in chat_app._notifications)
        assert await stored(core, conv_id) == []
        screen.query_one("#temperature", Input).value = "0.4"
        screen.query_one("#max-tokens", Input).value = "256"
        screen.query_one(ChatInput).focus()
        await pilot.press("enter")
        await settle(chat_app, pilot)
    model_msg = (await stored(core, conv_id))[1]
    assert (
        model_msg["config"]["temperature"] == 0.4 and model_msg["config"]["maxOutputTokens"] == 256
    )
    sent = [r for r in fake_gemini.requests if r["model"]][-1]["body"]
    assert sent["generationConfig"]["temperature"] == 0.4


async def test_provider_failure_is_shown_without_a_crash(
    chat_app: ApsaraApp, core: Core, fake_gemini
) -> None:
    await chosen(chat_app, core)
    conv_id = chat_app.current_conversation.conversation_id
    fake_gemini.script("500", "500", "500", "500", "500")
    async with chat_app.run_test(size=(80, 24)) as pilot:
        chat_app.open_action(4)
        await settle(chat_app, pilot)
        chat_app.screen.query_one(ChatInput).text = "are you there?"
        await pilot.press("enter")
        await settle(chat_app, pilot)
        assert isinstance(chat_app.screen, ChatScreen)
        reply = views(chat_app)[-1]
        assert "AI provider unavailable" in text_of(reply.query_one(".usage", Static))
        assert any(n.severity == "error" for n in chat_app._notifications)
        assert not chat_app.screen.query_one(ChatInput).locked
    messages = await stored(core, conv_id)
    assert messages[0]["content"]["text"] == "are you there?"  # stored before the model call


async def test_stream_cut_midway_keeps_partial_reply(
    chat_app: ApsaraApp, core: Core, fake_gemini
) -> None:
    await chosen(chat_app, core)
    conv_id = chat_app.current_conversation.conversation_id
    fake_gemini.headers.update({"x-fake-chunks": "6"})
    fake_gemini.script("cut:3")
    async with chat_app.run_test(size=(80, 24)) as pilot:
        chat_app.open_action(4)
        await settle(chat_app, pilot)
        chat_app.screen.query_one(ChatInput).text = "one two three four five six"
        await pilot.press("enter")
        await settle(chat_app, pilot)
        reply = views(chat_app)[-1]
        assert "⚠" in text_of(reply.query_one(".usage", Static))
        assert reply.text  # the chunks that arrived stay on screen
    model_msg = (await stored(core, conv_id))[-1]
    assert model_msg["role"] == "model" and model_msg["metadata"]["status"] == "interrupted"


async def test_rate_limit_refusal_names_the_reset_time(chat_app: ApsaraApp, core: Core) -> None:
    user = await chosen(chat_app, core, plan="free")
    conv_id = chat_app.current_conversation.conversation_id
    for _ in range(200):  # use up today's allowance through the limits service itself
        try:
            await core.limits.reserve(actor=principal_of(user), model="gemini-2.5-flash")
        except RateLimitError:
            break
    else:
        pytest.fail("the free plan never refused")
    async with chat_app.run_test(size=(80, 24)) as pilot:
        chat_app.open_action(4)
        await settle(chat_app, pilot)
        assert "2.5-flash: 0/" in text_of(chat_app.screen.query_one("#quota", Static))
        chat_app.screen.query_one(ChatInput).text = "one more?"
        await pilot.press("enter")
        await settle(chat_app, pilot)
        inline = text_of(views(chat_app)[-1].query_one(".usage", Static))
        assert "Rate limit exceeded" in inline and "Resets" in inline and "UTC" in inline
        assert any(
            n.severity == "warning" and "Resets" in n.message for n in chat_app._notifications
        )
    assert await stored(core, conv_id) == []


async def test_long_history_mounts_a_window_and_loads_older_on_scroll(
    chat_app: ApsaraApp, core: Core
) -> None:
    user = await chat_user(core)
    conv = await seed_conversation(core, user, 120)
    chat_app.current_user, chat_app.current_conversation = user, ConversationView.of(conv)
    async with chat_app.run_test(size=(80, 24)) as pilot:
        chat_app.open_action(4)
        await settle(chat_app, pilot)
        log = chat_app.screen.query_one(ChatLog)
        assert [v.sequence for v in log.views] == list(range(121 - WINDOW, 121))
        assert log.is_vertical_scroll_end
        log.scroll_home(animate=False)
        await settle(chat_app, pilot)
        assert log.views[0].sequence == 121 - 2 * WINDOW and len(log.views) == 2 * WINDOW
        assert log.scroll_y > 0  # the reader keeps their place
        log.scroll_home(animate=False)
        await settle(chat_app, pilot)
        assert [v.sequence for v in log.views] == list(range(1, 121))
        assert not log.has_older


async def test_messages_screen_pages_back(chat_app: ApsaraApp, core: Core) -> None:
    user = await chat_user(core)
    conv = await seed_conversation(core, user, 60, title="Sixty")
    chat_app.current_user, chat_app.current_conversation = user, ConversationView.of(conv)
    async with chat_app.run_test(size=(80, 24)) as pilot:
        chat_app.open_action(5)
        await settle(chat_app, pilot)
        assert isinstance(chat_app.screen, MessagesScreen)
        assert "Sixty · 60 messages" in text_of(
            chat_app.screen.query_one("#messages-title", Static)
        )
        assert len(views(chat_app)) == WINDOW
        await pilot.press("home")
        await settle(chat_app, pilot)
        assert [v.sequence for v in views(chat_app)] == list(range(1, 61))
        model_view = views(chat_app)[1]
        assert "gemini-2.5-flash" in text_of(model_view.query_one(".usage", Static))
        assert " UTC" in text_of(model_view.query_one(".role", Static))  # its timestamp


async def test_edit_streams_new_reply_and_branch_is_restorable(
    chat_app: ApsaraApp, core: Core
) -> None:
    user = await chosen(chat_app, core)
    conv_id = chat_app.current_conversation.conversation_id
    for text in ("first question", "second question"):
        await core.chat.generate(actor=principal_of(user), conversation_id=conv_id, text=text)
    async with chat_app.run_test(size=(80, 24)) as pilot:
        chat_app.open_action(6)
        await settle(chat_app, pilot)
        assert isinstance(chat_app.screen, EditMessageScreen)
        pick = chat_app.screen.query_one("#pick", OptionList)
        assert pick.option_count == 2
        pick.highlighted = 1  # newest first: index 1 is the first question
        await pilot.pause()
        editor = chat_app.screen.query_one("#edit-text", TextArea)
        assert editor.text == "first question"
        editor.text = "a better question"
        await pilot.press("ctrl+s")
        await settle(chat_app, pilot)
        assert isinstance(chat_app.screen, ConfirmModal)  # names the 3 messages it archives
        assert "The 3 messages after #1" in text_of(chat_app.screen.query_one("#confirm-body"))
        await pilot.press("y")
        await settle(chat_app, pilot)
        reply = views(chat_app, "#edit-log")[-1]
        assert "Echo: a better question" in reply.text
        branches = chat_app.screen.query_one("#branches", OptionList)
        assert branches.option_count == 1
        live = await stored(core, conv_id)
        assert [m["content"]["text"] for m in live][0] == "a better question" and len(live) == 2
        assert live[0]["isEdited"] and live[0]["editHistory"]
        branches.focus()
        branches.highlighted = 0
        await settle(chat_app, pilot)
        assert any(
            "second question" in v.text for v in views(chat_app, "#edit-log")
        )  # the branch, previewed
        await pilot.press("enter")
        await settle(chat_app, pilot)
        assert isinstance(chat_app.screen, ConfirmModal)
        await pilot.press("y")
        await settle(chat_app, pilot)
    texts = [m["content"]["text"] for m in await stored(core, conv_id) if m["role"] == "user"]
    assert "second question" in texts


async def test_regenerate_last_with_new_config_keeps_previous(
    chat_app: ApsaraApp, core: Core
) -> None:
    user = await chosen(chat_app, core)
    conv_id = chat_app.current_conversation.conversation_id
    await core.chat.generate(actor=principal_of(user), conversation_id=conv_id, text="tell me")
    before = (await stored(core, conv_id))[-1]
    async with chat_app.run_test(size=(80, 24)) as pilot:
        chat_app.open_action(20)
        await settle(chat_app, pilot)
        assert isinstance(chat_app.screen, RegenerateScreen)
        assert chat_app.screen.query_one("#pick", OptionList).option_count == 1
        chat_app.screen.query_one("#temperature", Input).value = "1.5"
        await pilot.press("ctrl+l")
        await settle(chat_app, pilot)
        reply = views(chat_app, "#regen-log")[-1]
        assert "Echo: tell me" in reply.text and "tokens" in text_of(
            reply.query_one(".usage", Static)
        )
        assert any("Regenerated" in n.message for n in chat_app._notifications)
    after = (await stored(core, conv_id))[-1]
    assert after["messageId"] != before["messageId"] and after["config"]["temperature"] == 1.5
    branches = await core.conversations.branches(actor=principal_of(user), conversation_id=conv_id)
    assert any(m["messageId"] == before["messageId"] for b in branches for m in b["messages"])


async def test_reader_scrolled_up_is_not_yanked_and_input_is_locked_while_streaming(
    chat_app: ApsaraApp, core: Core, fake_gemini
) -> None:
    user = await chat_user(core)
    conv = await seed_conversation(core, user, 30)
    chat_app.current_user, chat_app.current_conversation = user, ConversationView.of(conv)
    fake_gemini.headers.update({"x-fake-chunks": "300", "x-fake-chunk-delay-ms": "8"})
    async with chat_app.run_test(size=(80, 24)) as pilot:
        chat_app.open_action(4)
        await settle(chat_app, pilot)
        log, box = chat_app.screen.query_one(ChatLog), chat_app.screen.query_one(ChatInput)
        box.text = "first"
        await pilot.press("enter")
        for _ in range(2000):
            if log.views[-1].streaming and log.views[-1].text:
                break
            await pilot.pause(0.01)
        assert log.views[-1].streaming, "the reply never started streaming"
        assert box.locked and box.has_class("-locked")
        box.text = "second"
        await pilot.press("enter")  # sending waits while the reply streams; the text stays
        assert any("streaming" in n.message for n in chat_app._notifications)
        assert box.text == "second"
        box.text = ""
        log.scroll_to(y=3, animate=False)  # the reader goes back up
        await settle(chat_app, pilot)
        assert log.scroll_y == 3 and not log.is_vertical_scroll_end
        assert not box.locked
        fake_gemini.headers.clear()
        box.text = "third"  # the reader stays at the bottom: the reply is followed
        await pilot.press("enter")
        await settle(chat_app, pilot)
        assert log.is_vertical_scroll_end and "Echo: third" in log.views[-1].text
    texts = [
        m["content"]["text"]
        for m in await stored(core, conv["conversationId"])
        if m["role"] == "user"
    ]
    assert texts[-2:] == ["first", "third"]


async def test_no_api_key_is_explained(app: ApsaraApp, core: Core) -> None:
    await chosen(app, core)
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_action(4)
        await settle(app, pilot)
        app.screen.query_one(ChatInput).text = "hi"
        await pilot.press("enter")
        await settle(app, pilot)
        assert "GOOGLE_AI_API_KEY" in text_of(views(app)[-1].query_one(".usage", Static))
        assert isinstance(app.screen, ChatScreen)


async def test_regenerate_a_chosen_reply(chat_app: ApsaraApp, core: Core) -> None:
    user = await chosen(chat_app, core)
    conv_id = chat_app.current_conversation.conversation_id
    for text in ("one", "two"):
        await core.chat.generate(actor=principal_of(user), conversation_id=conv_id, text=text)
    first_reply = (await stored(core, conv_id))[1]
    async with chat_app.run_test(size=(80, 24)) as pilot:
        chat_app.open_action(20)
        await settle(chat_app, pilot)
        pick = chat_app.screen.query_one("#pick", OptionList)
        pick.highlighted = 1  # newest first: index 1 is the reply to "one"
        pick.focus()
        await pilot.press("enter")
        await settle(chat_app, pilot)
        assert isinstance(chat_app.screen, ConfirmModal)  # an earlier reply: it asks first
        body = text_of(chat_app.screen.query_one("#confirm-body"))
        assert "Reply #2 and the 2 messages after it stay reachable as an earlier version" in body
        await pilot.press("y")
        await settle(chat_app, pilot)
        assert "Echo: one" in views(chat_app, "#regen-log")[-1].text
    live_ids = {m["messageId"] for m in await stored(core, conv_id)}
    assert first_reply["messageId"] not in live_ids
    (fork,) = await core.messages.versions(actor=principal_of(user), conversation_id=conv_id)
    assert fork["versions"][0]["messageId"] == first_reply["messageId"]  # version 1 of 2
    branches = await core.conversations.branches(actor=principal_of(user), conversation_id=conv_id)
    assert any(m["messageId"] == first_reply["messageId"] for b in branches for m in b["messages"])


async def test_leaving_mid_stream_cancels_the_reply_without_a_crash(
    chat_app: ApsaraApp, core: Core, fake_gemini
) -> None:
    await chosen(chat_app, core)
    conv_id = chat_app.current_conversation.conversation_id
    fake_gemini.headers.update(
        {"x-fake-chunks": "3000", "x-fake-chunk-delay-ms": "8"}
    )  # 24 s: always left mid-stream, even on a loaded machine
    async with chat_app.run_test(size=(80, 24)) as pilot:
        chat_app.open_action(4)
        await settle(chat_app, pilot)
        log = chat_app.screen.query_one(ChatLog)
        chat_app.screen.query_one(ChatInput).text = "never mind"
        await pilot.press("enter")
        for _ in range(2000):
            if log.views and log.views[-1].streaming and log.views[-1].text:
                break
            await pilot.pause(0.01)
        assert log.views[-1].streaming, "the reply never started streaming"
        await pilot.press("escape")  # asks first
        await pilot.pause()
        assert isinstance(chat_app.screen, ConfirmModal)
        await pilot.press("y")
        await settle(chat_app, pilot)
        assert chat_app.is_running and not isinstance(chat_app.screen, ChatScreen)
    messages = await stored(core, conv_id)
    assert messages[0]["content"]["text"] == "never mind"
    assert [m["metadata"]["status"] for m in messages] == ["complete", "interrupted"]
