"""The help screen (F1 or ?): every key of the screen underneath, then the app-wide ones."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

GLOBAL_NOTES = [
    ("F1 / ?", "This help"),
    ("ctrl+p", "Command palette: every action by name"),
    ("escape", "Back (asks first while a reply streams)"),
    ("ctrl+q", "Quit (asks first while a reply streams)"),
]


def key_rows(screen: Screen[Any]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(this screen's keys, the app's keys) active on `screen` with its current focus."""
    here: dict[str, str] = {}
    app_wide: dict[str, str] = {}
    for key, active in screen.active_bindings.items():
        binding: Binding = active.binding
        if not binding.description or binding.system:
            continue
        shown = screen.app.get_key_display(binding) or key
        (app_wide if active.node is screen.app else here).setdefault(shown, binding.description)
    for shown, what in GLOBAL_NOTES:
        app_wide.setdefault(shown, what)
    return sorted(here.items()), list(app_wide.items())


def _table(title: str, rows: list[tuple[str, str]]) -> Table:
    table = Table(title=title, title_justify="left", show_header=False, box=None, expand=True)
    table.add_column("key", style="bold", no_wrap=True, width=14)
    table.add_column("what")
    for key, what in rows or [("", "(none)")]:
        table.add_row(key, what)
    return table


class HelpModal(ModalScreen[None]):
    """Keys of the screen below and of the app; escape, F1, ? or q closes."""

    DEFAULT_CSS = """
    HelpModal { align: center middle; }
    HelpModal > VerticalScroll {
        width: 72; max-width: 95%; height: auto; max-height: 90%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    """
    BINDINGS = [Binding("escape,f1,question_mark,q", "app.pop_screen", "Close")]

    def __init__(
        self, title: str, screen_rows: list[tuple[str, str]], app_rows: list[tuple[str, str]]
    ) -> None:
        super().__init__()
        self._title, self._screen_rows, self._app_rows = title, screen_rows, app_rows

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(f"[b]Help · {self._title}[/]", id="help-title")
            yield Static(_table("Keys on this screen", self._screen_rows), id="help-screen")
            yield Static(_table("Everywhere", self._app_rows), id="help-global")
