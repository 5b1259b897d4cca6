"""The chat's message keys (action 4): `‹ n/m ›` and [ ] switch versions, d deletes the
selected message after a confirm, ctrl+f searches through the core and jumps to the result."""

from __future__ import annotations

from textual.widgets import Input, OptionList, Static

from apsara_core.core import Core
from apsara_tui.app import ApsaraApp
from apsara_tui.screens.chat import ChatScreen
from apsara_tui.widgets.chat_log import ChatLog
from apsara_tui.widgets.confirm import ConfirmModal
from apsara_tui.widgets.help import HelpModal, key_rows
from apsara_tui.widgets.search_box import SearchModal
from tests.factories import principal_of
from tests.tui.test_chat_screens import chosen, settle, stored, text_of, views


async def talk(app: ApsaraApp, core: Core, *texts: str) -> list[dict]:
    user = await chosen(app, core)
    me, cid = principal_of(user), app.current_conversation.conversation_id
    return [await core.chat.generate(actor=me, conversation_id=cid, text=t) for t in texts]


def last_notice(app: ApsaraApp) -> str:
    return [n.message for n in app._notifications][-1]


def label(view) -> str:
    return text_of(view.query_one(".role", Static))


async def select(app: ApsaraApp, pilot, sequence: int) -> None:
    log = app.screen.query_one(ChatLog)
    log.focus()
    log.select_sequence(sequence)
    await pilot.pause()


async def test_brackets_switch_a_regenerated_reply_and_what_follows(
    chat_app: ApsaraApp, core: Core
) -> None:
    a, b = await talk(chat_app, core, "one", "two")
    me = principal_of(chat_app.current_user)
    cid = chat_app.current_conversation.conversation_id
    r = await core.chat.regenerate(actor=me, conversation_id=cid, message_id=a["modelMessageId"])
    async with chat_app.run_test(size=(100, 30)) as pilot:
        chat_app.open_action(4)
        await settle(chat_app, pilot)
        assert isinstance(chat_app.screen, ChatScreen)
        first, reply = views(chat_app)
        assert "‹ 2/2 ›" in label(reply) and "‹" not in label(first)
        await select(chat_app, pilot, reply.sequence)
        await pilot.press("left_square_bracket")
        await settle(chat_app, pilot)
        shown = views(chat_app)
        assert [v.message_id for v in shown] == [
            a["userMessageId"],
            a["modelMessageId"],
            b["userMessageId"],
            b["modelMessageId"],
        ]
        assert "‹ 1/2 ›" in label(shown[1]) and shown[1].has_class("-selected")
        assert "Version 1/2: 3 messages from #2 on" in last_notice(chat_app)
        assert [m["messageId"] for m in await stored(core, cid)] == [v.message_id for v in shown]
        await pilot.press("left_square_bracket")  # already the first
        await settle(chat_app, pilot)
        assert "first version" in last_notice(chat_app)
        await pilot.press("right_square_bracket")
        await settle(chat_app, pilot)
        assert [v.message_id for v in views(chat_app)] == [a["userMessageId"], r["modelMessageId"]]
        assert "‹ 2/2 ›" in label(views(chat_app)[1])
        chat_app.screen.query_one("#chat-input").focus()  # alt+← works from the message box
        await pilot.press("alt+left")
        await settle(chat_app, pilot)
        assert len(views(chat_app)) == 4


async def test_help_and_footer_name_the_message_keys(chat_app: ApsaraApp, core: Core) -> None:
    await talk(chat_app, core, "one")
    async with chat_app.run_test(size=(160, 30)) as pilot:
        chat_app.open_action(4)
        await settle(chat_app, pilot)
        chat_app.screen.query_one(ChatLog).focus()
        await pilot.pause()
        here, _ = key_rows(chat_app.screen)
        rows = dict(here)
        assert rows["["] == "Prev version" and rows["]"] == "Next version"
        assert rows["d"] == "Delete message" and rows["^f"] == "Search"
        assert list(rows.values()).count("Prev version") == 2  # [ and alt+left
        footer = " ".join(str(k.render()) for k in chat_app.screen.query("FooterKey"))
        assert "Prev version" in footer and "Delete message" in footer
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(chat_app.screen, HelpModal)


async def test_d_deletes_the_selected_message_after_asking(chat_app: ApsaraApp, core: Core) -> None:
    a, b = await talk(chat_app, core, "one", "two")
    cid = chat_app.current_conversation.conversation_id
    async with chat_app.run_test(size=(100, 30)) as pilot:
        chat_app.open_action(4)
        await settle(chat_app, pilot)
        await select(chat_app, pilot, 3)  # your message #3, answered by #4
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(chat_app.screen, ConfirmModal)
        assert "#3 and its reply #4" in chat_app.screen._title
        await pilot.press("n")
        await settle(chat_app, pilot)
        assert len(await stored(core, cid)) == 4
        await select(chat_app, pilot, 3)
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("y")
        await settle(chat_app, pilot)
        assert [v.sequence for v in views(chat_app)] == [1, 2]
        assert [m["messageSequence"] for m in await stored(core, cid)] == [1, 2]
        assert "Deleted #3 and #4; 2 messages left." in last_notice(chat_app)
        await select(chat_app, pilot, 2)  # a reply goes alone
        await pilot.press("d")
        await pilot.pause()
        assert chat_app.screen._title == "Delete reply #2?"
        await pilot.press("y")
        await settle(chat_app, pilot)
        assert [v.sequence for v in views(chat_app)] == [1]
        conv = await core.conversations.get(
            actor=principal_of(chat_app.current_user), conversation_id=cid
        )
        assert conv["stats"]["totalMessages"] == 1


async def test_ctrl_f_searches_in_the_core_and_jumps(chat_app: ApsaraApp, core: Core) -> None:
    await talk(chat_app, core, "pack the tent", *[f"filler {n}" for n in range(30)])
    async with chat_app.run_test(size=(100, 30)) as pilot:
        chat_app.open_action(4)
        await settle(chat_app, pilot)
        await pilot.press("ctrl+f")
        await pilot.pause()
        assert isinstance(chat_app.screen, SearchModal)
        chat_app.screen.query_one(Input).value = "TENT"
        await settle(chat_app, pilot)
        await pilot.pause(0.3)
        await settle(chat_app, pilot)
        results = chat_app.screen.query_one(OptionList)
        assert results.option_count == 2
        assert "#2 model" in str(results.get_option_at_index(0).prompt)  # newest first
        assert "#1 you" in str(results.get_option_at_index(1).prompt)
        await pilot.press("enter")  # to the results
        await pilot.press("down", "enter")  # jump to #1
        await settle(chat_app, pilot)
        assert isinstance(chat_app.screen, ChatScreen)
        log = chat_app.screen.query_one(ChatLog)
        assert log.selected is not None and log.selected.sequence == 1
        assert views(chat_app)[-1].sequence == 62  # everything after it is shown too


async def test_a_message_just_sent_can_be_deleted(chat_app: ApsaraApp, core: Core) -> None:
    await chosen(chat_app, core)
    cid = chat_app.current_conversation.conversation_id
    async with chat_app.run_test(size=(100, 30)) as pilot:
        chat_app.open_action(4)
        await settle(chat_app, pilot)
        chat_app.screen.query_one("#chat-input").text = "hello"
        await pilot.press("enter")
        await settle(chat_app, pilot)
        await select(chat_app, pilot, 2)
        await pilot.press("d")
        await pilot.pause()
        assert chat_app.screen._title == "Delete reply #2?"
        await pilot.press("y")
        await settle(chat_app, pilot)
        assert [m["role"] for m in await stored(core, cid)] == ["user"]
        assert [v.sequence for v in views(chat_app)] == [1]


async def test_logs_that_only_preview_offer_no_message_keys(
    chat_app: ApsaraApp, core: Core
) -> None:
    await talk(chat_app, core, "one")
    async with chat_app.run_test(size=(120, 30)) as pilot:
        chat_app.open_action(6)  # the edit screen's log previews branches and replies
        await settle(chat_app, pilot)
        chat_app.screen.query_one("#edit-log", ChatLog).focus()
        await pilot.pause()
        shown = dict(key_rows(chat_app.screen)[0]).values()
        assert "Delete message" not in shown and "Prev version" not in shown
        assert "Copy" in shown


async def test_versions_after_a_message_with_no_current_reply(
    chat_app: ApsaraApp, core: Core
) -> None:
    a, b = await talk(chat_app, core, "one", "two")
    me = principal_of(chat_app.current_user)
    cid = chat_app.current_conversation.conversation_id
    r = await core.chat.regenerate(actor=me, conversation_id=cid)
    await core.messages.delete_message(
        actor=me, conversation_id=cid, message_id=r["modelMessageId"]
    )  # only the archived reply follows #3 now
    async with chat_app.run_test(size=(100, 30)) as pilot:
        chat_app.open_action(4)
        await settle(chat_app, pilot)
        prompt = views(chat_app)[-1]
        assert prompt.sequence == 3 and "‹ –/1 › versions follow" in label(prompt)
        await select(chat_app, pilot, 3)
        await pilot.press("right_square_bracket")
        await settle(chat_app, pilot)
        assert [v.message_id for v in views(chat_app)][-1] == b["modelMessageId"]
        assert "‹" not in label(views(chat_app)[-1])  # one version left: no mark
        assert await core.messages.versions(actor=me, conversation_id=cid) == []
