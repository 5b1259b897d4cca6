"""The app follows the core's one actor rule: the operator acts as admin until a session is
logged in, which then acts with its own rights; logging out returns to admin."""

from __future__ import annotations

from textual.widgets import DataTable

from apsara_core.core import Core
from apsara_core.models import Principal
from apsara_tui.app import ApsaraApp
from apsara_tui.screens.users import UserListScreen
from tests.tui.account_helpers import notes, open_action, settle

PASSWORD = "correct horse battery"


async def _user(core: Core, email: str, role: str = "user") -> dict:
    return await core.users.create(
        actor=Principal.operator(),
        email=email,
        full_name="Una",
        password=PASSWORD,
        role=role,
        verified=True,
    )


async def test_a_user_session_cannot_open_admin_lists_until_logout(app: ApsaraApp) -> None:
    await _user(app.core, "una@example.com")
    await _user(app.core, "otto@example.com")
    await app.core.sessions.sign_in(
        lambda: app.core.auth.login(email="una@example.com", password=PASSWORD)
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert (app.current_user or {}).get("email") == "una@example.com"  # session restored
        await open_action(pilot, 9)
        assert isinstance(app.screen, UserListScreen)
        assert app.screen.query_one(DataTable).row_count == 0
        assert "Only admins" in notes(app)
        await pilot.press("escape")
        await open_action(pilot, 16)
        await pilot.press("l")
        await settle(pilot)
        await pilot.press("escape")
        await open_action(pilot, 9)  # logged out: the operator is admin again
        assert app.screen.query_one(DataTable).row_count == 2


async def test_an_admin_session_keeps_admin_rights(app: ApsaraApp) -> None:
    await _user(app.core, "root@example.com", role="admin")
    await _user(app.core, "otto@example.com")
    await app.core.sessions.sign_in(
        lambda: app.core.auth.login(email="root@example.com", password=PASSWORD)
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await open_action(pilot, 9)
        assert app.screen.query_one(DataTable).row_count == 2
