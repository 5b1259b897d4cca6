"""Action 16: log out — revoke the stored session token, delete the session file, clear the user."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Footer, Header, Static

from apsara_tui.screens.base import CoreScreen
from apsara_tui.screens.sessions import end_session


class LogoutScreen(CoreScreen):
    """Shows who is logged in; l logs out here, a ends every session of that user."""

    BINDINGS = [
        Binding("l", "logout(False)", "Log out"),
        Binding("a", "logout(True)", "Log out everywhere"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical():
            yield Static("Checking the stored session…", id="logout-status")
            with Horizontal(classes="buttons"):
                yield Button("Log out (l)", id="logout", variant="primary")
                yield Button("Log out everywhere (a)", id="logout-all")
        yield Footer()

    def on_mount(self) -> None:
        self._describe()

    @work(exclusive=True, group="status")
    async def _describe(self) -> None:
        stored = self.core.sessions.stored()
        chosen = (self.apsara.current_user or {}).get("email")
        if stored is None:
            text = "Nobody is logged in on this machine."
            if chosen:
                text += f" {chosen} is the chosen user: logging out clears that choice."
        elif await self.core.sessions.active() is None:
            text = (
                f"The stored session of {stored.email or stored.user_id} has expired or was revoked: "
                "logging out deletes the session file."
            )
        else:
            text = f"Logged in as {stored.email or stored.user_id}. Log out to revoke the session token."
        self.query_one("#logout-status", Static).update(text)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_logout(event.button.id == "logout-all")

    def action_logout(self, everywhere: bool) -> None:
        """Log out (everywhere: end every session of the user)."""
        self._logout(everywhere)

    @work(exclusive=True, group="logout")
    async def _logout(self, everywhere: bool) -> None:
        had_user = self.apsara.current_user is not None
        who = await self.call(end_session(self.apsara, everywhere=everywhere))
        status = self.query_one("#logout-status", Static)
        if who is None:  # the Core refused; the notification says why, the file is kept
            return
        if who:
            scope = "every session ended" if everywhere else "session token revoked"
            status.update(f"Logged out {who}: {scope}, session file deleted.")
            self.notify(f"Logged out {who}", title="Logged out")
        elif had_user:
            status.update("No session was stored; the chosen user is cleared.")
            self.notify("No current user.", title="Logged out")
        else:
            status.update("Nobody was logged in; nothing to do.")
