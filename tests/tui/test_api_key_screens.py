"""API keys in the app: from Home (`k`, the current user) and from the users list (`k`, the
selected user): list, create (shown once, ctrl+y copies), revoke (asks first), at 80x24,
checked against what the database holds."""

from __future__ import annotations

from textual.widgets import Checkbox, DataTable, Static

from apsara_core.core import Core
from apsara_tui.app import ApsaraApp
from apsara_tui.screens.api_keys import ApiKeysScreen, CreateKeyModal, KeyShownModal
from apsara_tui.screens.users import UserListScreen
from apsara_tui.widgets.confirm import ConfirmModal
from apsara_tui.widgets.help import key_rows
from tests.factories import create_user, principal_of
from tests.tui.account_helpers import fill, notes, settle, submit


def rows(app: ApsaraApp) -> list[list[str]]:
    table = app.screen.query_one("#keys", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def live_keys(core: Core, user_id: str) -> list[dict]:
    return await core.db.api_keys.find({"userId": user_id, "revokedAt": None}).to_list()


async def create_key(app: ApsaraApp, pilot, name: str, expires: str = "", read_only=False) -> str:
    """n, fill the form, create; returns the key the modal shows once, and closes it."""
    await pilot.press("n")
    await settle(pilot)
    assert isinstance(app.screen, CreateKeyModal)
    await fill(pilot, "key-form", name=name, expires_in=expires)
    app.screen.query_one("#read_only", Checkbox).value = read_only
    await submit(pilot, "key-form")
    shown = app.screen
    assert isinstance(shown, KeyShownModal), notes(app)
    key = str(shown.query_one("#key-value", Static).content)
    assert "it will not be shown again" in str(shown.query_one("#key-warning", Static).content)
    await pilot.press("ctrl+y")
    assert app.clipboard == key
    await pilot.press("enter")
    await settle(pilot)
    assert isinstance(app.screen, ApiKeysScreen)
    return key


async def test_home_k_lists_creates_and_revokes_the_current_users_keys(
    app: ApsaraApp, core: Core
) -> None:
    user = await create_user(core, "ada@example.com")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        here, _ = key_rows(app.screen)
        assert dict(here)["k"] == "API keys"  # in the footer and the F1 help
        footer = " ".join(str(k.render()) for k in app.screen.query("FooterKey"))
        assert "API keys" in footer
        await pilot.press("k")
        await settle(pilot)
        assert "Choose a user first" in notes(app)  # no current user yet
        app.current_user = user
        await pilot.press("k")
        await settle(pilot)
        assert isinstance(app.screen, ApiKeysScreen) and rows(app) == []
        await pilot.press("n")
        await settle(pilot)
        await fill(pilot, "key-form", name="nightly", expires_in="soon")
        await submit(pilot, "key-form")
        assert isinstance(app.screen, CreateKeyModal)  # refused as typed, nothing stored
        assert "duration like 30d" in app.screen.query_one("#key-form").field("expires_in").error
        await pilot.press("escape")
        await settle(pilot)
        assert await live_keys(core, user["_id"]) == []
        key = await create_key(app, pilot, "nightly", expires="30d", read_only=True)
        stored = await live_keys(core, user["_id"])
        assert len(stored) == 1 and stored[0]["readOnly"] and stored[0]["expiresAt"] is not None
        assert key not in str(stored)  # only its hash is stored
        principal = await core.api_keys.verify(key)
        assert principal.user_id == user["_id"] and principal.read_only
        [row] = rows(app)
        assert row[0] == "nightly" and row[2] == "never" and row[4] == "read-only"
        assert row[3] == f"{stored[0]['expiresAt']:%Y-%m-%d}"
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal) and "nightly" in app.screen._title
        await pilot.press("n")
        await settle(pilot)
        assert len(await live_keys(core, user["_id"])) == 1
        await pilot.press("d")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert await live_keys(core, user["_id"]) == [] and rows(app) == []
        assert "Revoked 'nightly'" in notes(app)


async def test_an_admin_manages_the_selected_users_keys_from_the_users_list(
    app: ApsaraApp, core: Core
) -> None:
    bob = await create_user(core, "bob@example.com")
    await core.api_keys.create(actor=principal_of(bob), name="ci")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("9")
        await settle(pilot)
        assert isinstance(app.screen, UserListScreen)
        await pilot.press("k")
        await settle(pilot)
        assert isinstance(app.screen, ApiKeysScreen)
        assert "bob@example.com" in str(app.screen.query_one("#summary", Static).content)
        assert [r[0] for r in rows(app)] == ["ci"]
        await create_key(app, pilot, "export")
        assert sorted(k["name"] for k in await live_keys(core, bob["_id"])) == ["ci", "export"]
        assert sorted(r[0] for r in rows(app)) == ["ci", "export"]
        assert app.current_user is None  # acting on the selected user, not choosing them
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, UserListScreen)
