"""Conversation screens: create (1), list (2), choose (3), delete all (13), delete one (14)."""

from __future__ import annotations

from textual.widgets import DataTable, Input, Static, TextArea

from apsara_core.core import Core
from apsara_core.models.views import ConversationView
from apsara_core.services.conversations import SUMMARY_BOUND
from apsara_tui.app import ApsaraApp
from apsara_tui.screens.conversations import (
    ChooseConversationScreen,
    ConversationListScreen,
    CreateConversationScreen,
    DeleteAllConversationsScreen,
    DeleteConversationScreen,
)
from apsara_tui.screens.home import HomeScreen
from apsara_tui.widgets.confirm import ConfirmModal
from tests.factories import create_user, insert_conversations, principal_of
from tests.tui.account_helpers import settle as settle_workers
from tests.tui.chat_fixtures import seed_conversation


async def settle(app: ApsaraApp, pilot) -> None:
    """Let workers finish, those they start included (a delete starts a recount), and the
    screen repaint; a modal waiting for an answer ends the wait."""
    await settle_workers(pilot)


def static_text(app: ApsaraApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def test_create_needs_a_user_then_creates_with_system_instruction(
    app: ApsaraApp, core: Core
) -> None:
    user = await create_user(core, "ada@example.com")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("1")
        await pilot.pause(0.7)
        assert isinstance(app.screen, HomeScreen)  # the app says why instead of opening it
        assert any(
            n.severity == "warning" and n.message == "Choose a user first (action 10)."
            for n in app._notifications
        )
        app.current_user = user
        app.open_action(1)
        await settle(app, pilot)
        assert isinstance(app.screen, CreateConversationScreen)
        await pilot.press("ctrl+s")  # blank title: refused under the field
        await settle(app, pilot)
        assert "Enter a title" in app.screen.query_one("#field-title").error
        await pilot.press(*"Trip plans")
        app.screen.query_one("#system-instruction", TextArea).text = "Answer like a pirate."
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, HomeScreen)
        app.open_action(2)  # the detail (Enter) shows the stored system instruction
        await settle(app, pilot)
        app.screen.query_one(DataTable).focus()
        await pilot.press("enter")
        await settle(app, pilot)
        assert "system: Answer like a pirate." in static_text(app, "#table-info")
    stored = await core.db.conversations.find_one({"userId": user["_id"]})
    assert stored["title"] == "Trip plans"
    assert stored["config"]["rest"]["systemInstruction"] == "Answer like a pirate."
    assert app.current_conversation.conversation_id == stored["conversationId"]
    assert app.current_conversation.system_instruction == "Answer like a pirate."


async def test_list_all_users_search_and_toggle_to_one_user(app: ApsaraApp, core: Core) -> None:
    ada, bob = (
        await create_user(core, "ada@example.com"),
        await create_user(core, "bob@example.com"),
    )
    for title in ("Alpha", "Beta"):
        await core.conversations.create(actor=principal_of(ada), title=title)
    await core.conversations.create(actor=principal_of(bob), title="Bob's notes")
    app.current_user = ada
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_action(2)
        await settle(app, pilot)
        assert isinstance(app.screen, ConversationListScreen)
        table = app.screen.query_one(DataTable)
        assert table.row_count == 3
        app.screen.query_one("#search", Input).value = "bob@"
        await settle(app, pilot)
        assert table.row_count == 1 and table.get_row_at(0)[3] == "bob@example.com"
        app.screen.query_one("#search", Input).value = "alp"
        await settle(app, pilot)
        assert table.row_count == 1 and table.get_row_at(0)[0] == "Alpha"
        app.screen.query_one("#search", Input).value = ""
        await settle(app, pilot)
        await pilot.press("a")  # only the chosen user's
        await settle(app, pilot)
        assert sorted(table.get_row_at(i)[0] for i in range(table.row_count)) == ["Alpha", "Beta"]
        assert "chosen user's" in static_text(app, "#table-info")


async def test_choose_sets_the_current_conversation(app: ApsaraApp, core: Core) -> None:
    ada = await create_user(core, "ada@example.com")
    conv = await seed_conversation(core, ada, 4, title="Chosen one")
    await core.conversations.create(actor=principal_of(ada), title="Other")
    app.current_user = ada
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_action(3)
        await settle(app, pilot)
        assert isinstance(app.screen, ChooseConversationScreen)
        table = app.screen.query_one(DataTable)
        row = next(i for i in range(table.row_count) if table.get_row_at(i)[0] == "Chosen one")
        assert table.get_row_at(row)[1] == "4"
        table.move_cursor(row=row)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, HomeScreen)
        assert app.current_conversation.conversation_id == conv["conversationId"]
        assert "Chosen one" in app.sub_title


async def test_delete_one_asks_naming_title_and_count(app: ApsaraApp, core: Core) -> None:
    ada = await create_user(core, "ada@example.com")
    conv = await seed_conversation(core, ada, 6, title="Doomed")
    keep = await core.conversations.create(actor=principal_of(ada), title="Keeper")
    app.current_user, app.current_conversation = ada, ConversationView.of(conv)
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_action(14)
        await settle(app, pilot)
        assert isinstance(app.screen, DeleteConversationScreen)
        table = app.screen.query_one(DataTable)
        table.move_cursor(
            row=next(i for i in range(table.row_count) if table.get_row_at(i)[0] == "Doomed")
        )
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmModal)
        body = static_text(app, "#confirm-body")
        assert "Doomed" in body and "6 messages" in body
        await pilot.press("n")  # cancel: nothing goes
        await settle(app, pilot)
        assert (
            await core.db.messages.count_documents({"conversationId": conv["conversationId"]}) == 6
        )
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("y")
        await settle(app, pilot)
        assert isinstance(app.screen, DeleteConversationScreen)
        assert app.screen.query_one(DataTable).row_count == 1
        assert any("Deleted “Doomed” and 6 messages" in n.message for n in app._notifications)
    assert await core.db.conversations.count_documents({}) == 1
    assert await core.db.messages.count_documents({"conversationId": conv["conversationId"]}) == 0
    assert (await core.db.conversations.find_one({}))["conversationId"] == keep["conversationId"]
    assert app.current_conversation is None


async def test_delete_all_of_one_user_names_counts_and_titles(app: ApsaraApp, core: Core) -> None:
    ada, bob = (
        await create_user(core, "ada@example.com"),
        await create_user(core, "bob@example.com"),
    )
    await seed_conversation(core, ada, 3, title="First")
    await seed_conversation(core, ada, 5, title="Second")
    await seed_conversation(core, bob, 2, title="Bob's")
    app.current_user = ada
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_action(13)
        await settle(app, pilot)
        assert isinstance(app.screen, DeleteAllConversationsScreen)
        summary = static_text(app, "#delete-all-summary")
        assert "ada@example.com's conversations: 2 with 8 messages" in summary
        assert "First" in summary and "Second" in summary and "Bob" not in summary
        await pilot.press("d")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmModal)
        assert "2 with 8 messages" in static_text(app, "#confirm-body")
        await pilot.press("y")
        await settle(app, pilot)
        assert "0 with 0 messages" in static_text(app, "#delete-all-summary")
    assert await core.db.conversations.count_documents({"userId": ada["_id"]}) == 0
    assert await core.db.messages.count_documents({"userId": ada["_id"]}) == 0
    assert await core.db.messages.count_documents({"userId": bob["_id"]}) == 2


async def test_delete_all_without_a_user_covers_everyone_and_cancel_keeps_them(
    app: ApsaraApp, core: Core
) -> None:
    ada, bob = (
        await create_user(core, "ada@example.com"),
        await create_user(core, "bob@example.com"),
    )
    await seed_conversation(core, ada, 2, title="A")
    await seed_conversation(core, bob, 2, title="B")
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_action(13)
        await settle(app, pilot)
        assert "ALL users' conversations: 2 with 4 messages" in static_text(
            app, "#delete-all-summary"
        )
        await pilot.press("d")
        await settle(app, pilot)
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, DeleteAllConversationsScreen)
    assert await core.db.conversations.count_documents({}) == 2


async def test_list_shows_owner_emails_and_the_stored_system_instruction(
    app: ApsaraApp, core: Core
) -> None:
    ada = await create_user(core, "ada@example.com")
    await core.conversations.create(
        actor=principal_of(ada), title="Pirates", system_instruction="Answer like a pirate."
    )
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_action(2)
        await settle(app, pilot)
        table = app.screen.query_one(DataTable)
        assert table.get_row_at(0)[0] == "Pirates" and table.get_row_at(0)[3] == "ada@example.com"
        await pilot.press("enter")
        await settle(app, pilot)
        info = static_text(app, "#table-info")
        assert "system: Answer like a pirate." in info and "ada@example.com" in info


async def test_table_keys_page_and_search_reaches_past_the_shown_page(
    app: ApsaraApp, core: Core
) -> None:
    ada = await create_user(core, "ada@example.com")
    await insert_conversations(core, [ada["_id"]], 130, title="Chat {n}")
    app.current_user = ada
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_action(3)
        await settle(app, pilot)
        table = app.screen.query_one(DataTable)
        assert "Page 1: 1–50, more follow" in static_text(app, "#table-info")
        for key, shown in (
            ("right_square_bracket", "Page 2: 51–100, more follow"),
            ("pagedown", "Page 3: 101–130 "),
            ("left_square_bracket", "Page 2: 51–100"),
            ("pageup", "Page 1: 1–50"),
        ):
            await pilot.press(key)
            await settle(app, pilot)
            assert shown in static_text(app, "#table-info"), key
        await pilot.press("pageup")  # already on the first page
        assert "No more pages that way." in [n.message for n in app._notifications]
        await pilot.press("slash", *"chat 127")  # the oldest: on page 3, found from page 1
        await settle(app, pilot)
        assert table.row_count == 1 and table.get_row_at(0)[0] == "Chat 127"
        assert "matching “chat 127”" in static_text(app, "#table-info")
        await pilot.press("enter")  # Enter in the search box goes back to the table
        await pilot.press("enter")  # and Enter on the row chooses it
        await settle(app, pilot)
        assert isinstance(app.screen, HomeScreen)
        assert app.current_conversation.title == "Chat 127"


async def test_delete_all_over_the_counting_bound_says_at_least(app: ApsaraApp, core: Core) -> None:
    ada = await create_user(core, "ada@example.com")
    await insert_conversations(core, [ada["_id"]], SUMMARY_BOUND + 50, messages=2)
    app.current_user = ada
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_action(13)
        await settle(app, pilot)
        summary = static_text(app, "#delete-all-summary")
        assert (
            f"ada@example.com's conversations: at least {SUMMARY_BOUND} with at least "
            f"{2 * SUMMARY_BOUND} messages"
        ) in summary
        assert f"and at least {SUMMARY_BOUND - 10} more" in summary
        await pilot.press("d")
        await settle(app, pilot)
        await pilot.press("y")
        await settle(app, pilot)
        assert "0 with 0 messages" in static_text(app, "#delete-all-summary")
    assert await core.db.conversations.count_documents({}) == 0
