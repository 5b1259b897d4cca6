"""Actions 8, 9 and 10: create a user, list users (with the admin extras), choose the current user.

Who acts follows the core's one actor rule, as in the CLI: the operator as admin unless a
session is logged in, which then acts with its own rights.
"""

from __future__ import annotations

import asyncio
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Checkbox, DataTable, Footer, Header, Select, Static

from apsara_core.vocabulary import (
    ASSIGNABLE_PLANS,
    ASSIGNABLE_ROLES,
    FULL_NAME_MAX_LENGTH,
    PASSWORD_MAX_LENGTH,
    PASSWORD_MIN_LENGTH,
)
from apsara_tui.keys import SEARCH_DEBOUNCE_S, TABLE_BINDINGS
from apsara_tui.screens.base import CoreScreen
from apsara_tui.screens.delete_user import confirm_and_delete
from apsara_tui.widgets.confirm import ChoiceModal
from apsara_tui.widgets.forms import Form, FormField, email_check, length, password_checks, required
from apsara_tui.widgets.user_table import UserBrowser, UserDetailsModal


class CreateUserScreen(CoreScreen):
    """Action 8: name, email, optional password, role, plan and verified; Enter creates."""

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll():
            yield Form(
                FormField(
                    "full_name",
                    "Full name",
                    checks=[required("the full name"), length(1, FULL_NAME_MAX_LENGTH, "The name")],
                ),
                FormField(
                    "email",
                    "Email",
                    checks=[required("an email"), email_check()],
                    placeholder="ada@example.com",
                ),
                FormField(
                    "password",
                    "Password",
                    checks=password_checks(),
                    optional=True,
                    password=True,
                    placeholder=f"{PASSWORD_MIN_LENGTH}–{PASSWORD_MAX_LENGTH} characters; "
                    "empty: no password sign-in",
                ),
                Horizontal(
                    Select(
                        [(r, r) for r in ASSIGNABLE_ROLES],
                        value="user",
                        allow_blank=False,
                        id="role",
                    ),
                    Select(
                        [(p, p) for p in ASSIGNABLE_PLANS],
                        value="free",
                        allow_blank=False,
                        id="plan",
                    ),
                    Checkbox("email verified", id="verified"),
                    classes="choices",
                ),
                submit="Create user",
                id="create-form",
            )
            yield Static("", id="create-result")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(Form).field("full_name").input.focus()

    def on_form_submitted(self, event: Form.Submitted) -> None:
        event.stop()
        self._create(event.values)

    @work(exclusive=True)
    async def _create(self, values: dict[str, Any]) -> None:
        form = self.query_one(Form)
        user = await self.call_as(
            lambda me: form.guard(
                self.core.users.create(
                    actor=me,
                    email=values["email"].strip(),
                    full_name=values["full_name"].strip(),
                    password=values["password"] or None,
                    role=values["role"],
                    plan=values["plan"],
                    verified=bool(values["verified"]),
                )
            )
        )
        if user is None:
            return
        self.query_one("#create-result", Static).update(
            f"Created {user['email']} (id {user['_id']}, {user['role']}, {user['subscriptionPlan']}"
            f"{', verified' if user.get('isEmailVerified') else ', not verified'})."
        )
        self.notify(f"Created {user['email']}", title="User created")
        form.clear()
        form.field("full_name").input.focus()


class _BrowsingScreen(CoreScreen):
    """A screen around a UserBrowser: loads pages in a worker; the tables' key map
    (apsara_tui.keys)."""

    BINDINGS = TABLE_BINDINGS
    TITLE_TEXT = ""

    def __init__(self) -> None:
        super().__init__()
        self._last_text: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self.TITLE_TEXT, classes="hint")
        yield UserBrowser(id="browser")
        yield Footer()

    @property
    def browser(self) -> UserBrowser:
        """The browser widget."""
        return self.query_one(UserBrowser)

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()

    def action_search(self) -> None:
        """Focus the search box."""
        self.query_one("#user-search").focus()

    def action_page(self, delta: int) -> None:
        """Turn the page."""
        if not self.browser.turn(delta):
            self.notify("No more pages that way.", timeout=2)

    def on_user_browser_query_changed(self, event: UserBrowser.QueryChanged) -> None:
        event.stop()
        self._load(event.query)

    @work(exclusive=True, group="load")
    async def _load(self, query: dict[str, Any]) -> None:
        if query["text"] != self._last_text:  # typing: wait for a pause before querying
            await asyncio.sleep(SEARCH_DEBOUNCE_S)
        result = await self.call_as(lambda me: self.core.users.list(actor=me, **query))
        if result is not None:
            self._last_text = query["text"]
            self.browser.show(result)


class UserListScreen(_BrowsingScreen):
    """Action 9: search, filter and page through users; Enter shows one with the admin extras."""

    BINDINGS = [
        Binding("p", "admin('plan')", "Plan"),
        Binding("r", "admin('role')", "Role"),
        Binding("u", "admin('unlock')", "Unlock"),
        Binding("d", "admin('delete')", "Delete"),
        Binding("k", "admin('keys')", "API keys"),
    ]
    TITLE_TEXT = "Enter: details · p plan · r role · u unlock · d delete · k keys · / search"

    def action_admin(self, action: str) -> None:
        """Run an admin extra on the selected user."""
        user = self.browser.selected
        if user is None:
            self.notify("Select a user first.", severity="warning")
            return
        self._admin(action, user)

    def on_user_browser_picked(self, event: UserBrowser.Picked) -> None:
        event.stop()
        self._details(event.user)

    @work(exclusive=True, group="admin")
    async def _details(self, user: dict[str, Any]) -> None:
        action = await self.app.push_screen_wait(UserDetailsModal(user))
        if action:
            await self._run_admin(action, user)

    @work(exclusive=True, group="admin")
    async def _admin(self, action: str, user: dict[str, Any]) -> None:
        await self._run_admin(action, user)

    async def _run_admin(self, action: str, user: dict[str, Any]) -> None:
        if action == "keys":
            from apsara_tui.screens.api_keys import ApiKeysScreen

            await self.app.push_screen(ApiKeysScreen(user))
            return
        if action == "delete":
            if await confirm_and_delete(self, user) is not None:
                self.browser.refresh_query()
            return
        changed = await self._change(action, user)
        if changed is not None:
            self.browser.replace(changed)
            if self.apsara.current_user and str(self.apsara.current_user.get("_id")) == str(
                changed["_id"]
            ):
                self.apsara.current_user = {**self.apsara.current_user, **changed}
            self.notify(
                f"{changed['email']}: role {changed['role']}, plan {changed['subscriptionPlan']}"
                f"{', unlocked' if action == 'unlock' else ''}",
                title="User updated",
            )

    async def _change(self, action: str, user: dict[str, Any]) -> dict[str, Any] | None:
        users, key = self.core.users, str(user["_id"])
        if action == "unlock":
            return await self.call_as(lambda me: users.unlock(actor=me, user=key))
        field, choices = (
            ("subscriptionPlan", list(ASSIGNABLE_PLANS))
            if action == "plan"
            else ("role", list(ASSIGNABLE_ROLES))
        )
        choice = await self.app.push_screen_wait(
            ChoiceModal(
                f"{action.capitalize()} for {user.get('email')}", choices, current=user.get(field)
            )
        )
        if choice is None or choice == user.get(field):
            return None
        if action == "plan":
            return await self.call_as(lambda me: users.set_plan(actor=me, user=key, plan=choice))
        return await self.call_as(lambda me: users.set_role(actor=me, user=key, role=choice))


class ChooseUserScreen(_BrowsingScreen):
    """Action 10: pick the user the app acts as; the header shows them."""

    BINDINGS = [Binding("n", "choose_nobody", "No user")]
    TITLE_TEXT = "Enter: make the highlighted user the current user · n: no user · / search"

    def on_user_browser_picked(self, event: UserBrowser.Picked) -> None:
        event.stop()
        self.apsara.current_user = event.user
        self.notify(f"Current user: {event.user.get('email')}", title="User chosen")
        self.dismiss()

    def action_choose_nobody(self) -> None:
        """Clear the current user (a stored login session is left as it is)."""
        self.apsara.current_user = None
        self.notify("No current user.", title="User chosen")
        self.dismiss()
