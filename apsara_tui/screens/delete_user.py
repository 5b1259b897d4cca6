"""Action 12: delete a user by email or id, after a confirmation naming what will go."""

from __future__ import annotations

from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, Static

from apsara_tui.screens.base import CoreScreen
from apsara_tui.screens.sessions import forget_user
from apsara_tui.widgets.confirm import ConfirmModal
from apsara_tui.widgets.forms import Form, FormField, required
from apsara_tui.widgets.user_table import describe_user

WHAT_GOES = (
    "The account, all of its conversations and their messages, its uploaded files "
    "and its usage records will be deleted. This cannot be undone."
)


def deleted_summary(result: dict[str, Any]) -> str:
    """One line saying what a deletion removed."""
    return (
        f"Deleted {result.get('user')}: {result.get('conversations', 0)} conversations, "
        f"{result.get('messages', 0)} messages, {result.get('files', 0)} files, "
        f"{result.get('usage', 0)} usage records."
    )


async def confirm_and_delete(screen: CoreScreen, user: dict[str, Any]) -> dict[str, Any] | None:
    """Ask, naming the user and what goes; on yes delete through the Core (run in a worker).

    Returns:
        The Core's counts of what was deleted, or None when cancelled or refused.
    """
    modal = ConfirmModal(
        f"Delete {user.get('email') or user['_id']}?",
        f"{describe_user(user)}\n\n{WHAT_GOES}",
        confirm="Delete",
    )
    if not await screen.app.push_screen_wait(modal):
        screen.notify("Nothing was deleted.", title="Cancelled")
        return None
    result = await screen.call_as(
        lambda me: screen.core.users.delete(actor=me, user=str(user["_id"]))
    )
    if result is not None:
        if forget_user(screen.apsara, str(user["_id"])):
            screen.notify("That was the current user: the session is closed.", title="Session")
        screen.notify(deleted_summary(result), title="User deleted")
    return result


class DeleteUserScreen(CoreScreen):
    """Type an email or id, see whom it names, confirm, and see what was removed."""

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll():
            yield Static(
                "Delete a user and everything they own. You will be asked to confirm.",
                classes="hint",
            )
            yield Form(
                FormField(
                    "user",
                    "Email or ID",
                    checks=[required("an email or a user id")],
                    placeholder="ada@example.com or 24-hex id",
                ),
                submit="Delete…",
                id="delete-form",
            )
            yield Static("", id="delete-result")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(Form).field("user").input.focus()

    def on_form_submitted(self, event: Form.Submitted) -> None:
        event.stop()
        self._delete(event.values["user"].strip())

    @work(exclusive=True)
    async def _delete(self, key: str) -> None:
        form = self.query_one(Form)
        user = await self.call_as(lambda me: form.guard(self.core.users.get(actor=me, user=key)))
        if user is None:
            if not form.field("user").error:
                form.show_error(
                    "user", f"No user {key!r}: check the email or id (action 9 lists users)"
                )
            return
        result = await confirm_and_delete(self, user)
        if result is not None:
            self.query_one("#delete-result", Static).update(deleted_summary(result))
            form.clear()
