"""The full-screen shell: home menu, number keys, palette, database info, exit."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, OptionList

from apsara_tui.actions import ACTIONS
from apsara_tui.app import ApsaraApp
from apsara_tui.screens import home
from apsara_tui.screens.dbinfo import DatabaseInfoScreen
from apsara_tui.screens.home import HomeScreen
from tests.factories import create_user


@pytest.fixture
def patient_home(monkeypatch: pytest.MonkeyPatch) -> None:
    """Home waits 5 s for a second digit: a Pilot on a loaded machine may take longer than a
    typist's 0.6 s between two presses (it waits for the app to idle after each)."""
    monkeypatch.setattr(home, "NUMBER_DELAY_S", 5.0)


async def test_home_lists_21_actions_with_unavailable_ones_disabled(app: ApsaraApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        menu = app.screen.query_one(OptionList)
        assert menu.option_count == 21
        for action in ACTIONS:
            option = menu.get_option(f"action-{action.number}")
            assert option.disabled is (not action.enabled)
            assert action.title in str(option.prompt)
        assert "db " in app.sub_title and "127.0.0.1" in app.sub_title


async def test_number_keys_open_database_info_with_real_counts(
    app: ApsaraApp, patient_home: None
) -> None:
    for email in ("a@x.io", "b@x.io"):  # counted as the services count them
        await create_user(app.core, email)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("1", "1")
        await pilot.pause()
        assert isinstance(app.screen, DatabaseInfoScreen)
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = app.screen.query_one(DataTable)
        assert table.row_count >= 9
        assert table.get_row("users")[1] == "2"
        await pilot.press("escape")
        assert isinstance(app.screen, HomeScreen)


async def test_an_action_that_needs_a_user_says_why(app: ApsaraApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("7")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        messages = [n.message for n in app._notifications]
        assert any("Choose a user first" in m for m in messages)


async def test_palette_finds_database_info(app: ApsaraApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"schema")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DatabaseInfoScreen)


async def test_enter_on_menu_and_exit_action(app: ApsaraApp, patient_home: None) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2", "1")
        await pilot.pause()
    assert app.return_code == 0 or app.return_code is None
    assert not app.is_running


async def test_home_shows_the_digit_it_waits_on_and_opens_others_at_once(app: ApsaraApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("1")
        detail = str(app.screen.query_one("#detail").render())
        assert "Typed 1" in detail and "10–19" in detail
        await pilot.press("1")  # 11 opens
        await pilot.pause()
        assert type(app.screen).__name__ == "DatabaseInfoScreen"
        await pilot.press("escape")
        await pilot.pause()
        assert "Typed" not in str(app.screen.query_one("#detail").render())


async def test_choosing_no_user_clears_the_conversation(app: ApsaraApp) -> None:
    from apsara_core.models.views import ConversationView
    from tests.factories import create_user, principal_of

    user = await create_user(app.core, "ada@example.com")
    conv = await app.core.conversations.create(actor=principal_of(user), title="Trip planning")
    async with app.run_test(size=(80, 24)) as pilot:
        app.current_user, app.current_conversation = user, ConversationView.of(conv)
        await pilot.pause()
        assert "Trip planning" in app.sub_title
        app.current_user = await create_user(app.core, "bob@example.com")  # another user
        await pilot.pause()
        assert app.current_conversation is None and "Trip planning" not in app.sub_title
        app.current_user = None  # logout
        await pilot.pause()
        assert app.sub_title.endswith("no user")
