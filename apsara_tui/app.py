"""ApsaraApp: wiring only. It holds the Core and the operator's context (user, conversation)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from textual.app import App
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen

from apsara_core.core import Core
from apsara_tui.actions import BY_NUMBER, Action
from apsara_tui.palette import ActionsProvider


class ApsaraApp(App[None]):
    """The full-screen operator app over one `Core`."""

    TITLE = "Apsara"
    CSS_PATH = str(Path(__file__).with_name("app.tcss"))
    COMMANDS = App.COMMANDS | {ActionsProvider}
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", priority=True)]

    current_user: reactive[dict[str, Any] | None] = reactive(None)
    current_conversation: reactive[dict[str, Any] | None] = reactive(None)

    def __init__(self, core: Core) -> None:
        super().__init__()
        self.core = core

    def on_mount(self) -> None:
        from apsara_tui.screens.home import HomeScreen

        self._update_subtitle()
        self.push_screen(HomeScreen())

    def watch_current_user(self) -> None:
        self._update_subtitle()

    def watch_current_conversation(self) -> None:
        self._update_subtitle()

    def _update_subtitle(self) -> None:
        user = (self.current_user or {}).get("email") or "no user"
        conv = (self.current_conversation or {}).get("title") or "no conversation"
        self.sub_title = f"db {self.core.target.label} · {user} · {conv}"

    def open_action(self, number: int) -> None:
        """Open management action `number`, or say why it is unavailable."""
        action = BY_NUMBER.get(number)
        if action is None:
            self.notify(f"There is no action {number}; choose 1–21.", severity="warning")
            return
        if not action.enabled:
            self.notify(f"{action.number}. {action.title}: {action.unavailable}",
                        title="Unavailable", severity="warning")
            return
        if action.screen == "exit":
            self.exit()
            return
        self.push_screen(self._build_screen(action))

    @staticmethod
    def _build_screen(action: Action) -> Screen[Any]:
        module_name, class_name = (action.screen or "").split(":")
        module = importlib.import_module(f"apsara_tui.screens.{module_name}")
        return getattr(module, class_name)()
