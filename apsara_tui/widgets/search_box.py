"""SearchModal: find messages of the conversation by their text; Enter on a result jumps to it.

The modal only shows what `lookup(query, page)` answers (the screen passes the core's
`messages.search_messages`): the search is the core's, never a filter over mounted widgets.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

Lookup = Callable[[str, int], Awaitable["dict[str, Any] | None"]]
DEBOUNCE_S = 0.2
"""The search waits for a pause in typing this long before it asks the core."""


def result_option(item: dict[str, Any]) -> Option:
    """`#12 you · …the words around the match…` with the sequence as option id."""
    who = {"user": "you", "model": "model", "tool": "tool"}.get(item.get("role") or "", "?")
    line = Text(f"#{item['messageSequence']} {who} · ", style="bold")
    line.append(item.get("snippet") or "")
    return Option(line, id=str(item["messageSequence"]))


class SearchModal(ModalScreen["int | None"]):
    """Type to search; ↓ or Enter goes to the results, Enter on one dismisses with its `#`;
    PgDn/PgUp turn result pages; escape closes."""

    DEFAULT_CSS = """
    SearchModal { align: center middle; }
    SearchModal > Vertical {
        width: 80; max-width: 100%; height: auto; max-height: 90%;
        border: thick $primary 60%; background: $surface; padding: 1 2;
    }
    SearchModal #search-title { text-style: bold; }
    SearchModal #search-status { color: $text-muted; height: auto; }
    SearchModal OptionList { height: auto; max-height: 14; }
    """

    BINDINGS = [
        Binding("escape", "cancel", "Close"),
        Binding("pagedown", "page(1)", "Next results", priority=True),
        Binding("pageup", "page(-1)", "Prev results", priority=True),
        Binding("down", "to_results", "Results", show=False),
    ]

    def __init__(self, lookup: Lookup, *, title: str = "Search this conversation") -> None:
        super().__init__()
        self._lookup, self._title = lookup, title
        self.page, self.has_more, self.query_text = 1, False, ""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self._title, id="search-title", markup=False)
            yield Input(placeholder="words to find (any case)", id="search-input")
            yield Static("Type to search; Enter or ↓ goes to the results.", id="search-status")
            yield OptionList(id="search-results")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        self.query_text, self.page = event.value.strip(), 1
        self.search(self.query_text, 1, DEBOUNCE_S)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_to_results()

    def action_to_results(self) -> None:
        """Move to the result list (its first row highlighted)."""
        results = self.query_one(OptionList)
        if results.option_count:
            results.highlighted = results.highlighted or 0
            results.focus()

    @work(exclusive=True, group="search")
    async def search(self, text: str, page: int, wait: float = 0.0) -> None:
        """Ask the core for one page of matches and list them."""
        if wait:
            await asyncio.sleep(wait)
        results, status = self.query_one(OptionList), self.query_one("#search-status", Static)
        if not text:
            results.clear_options()
            status.update("Type to search; Enter or ↓ goes to the results.")
            return
        status.update("Searching…")
        found = await self._lookup(text, page)
        if found is None:  # the screen notified the error
            status.update("The search failed (see the notice).")
            return
        self.page, self.has_more = page, bool(found.get("hasMore"))
        results.clear_options()
        results.add_options([result_option(i) for i in found.get("items") or []])
        count = results.option_count
        more = " · PgDn: more" if self.has_more else ""
        back = " · PgUp: back" if page > 1 else ""
        status.update(
            f"page {page}: {count} message{'s' if count != 1 else ''} contain {text!r}{more}{back}"
            if count
            else f"No message contains {text!r}."
        )

    def action_page(self, step: int) -> None:
        """Turn the result page."""
        if (step > 0 and self.has_more) or (step < 0 and self.page > 1):
            self.search(self.query_text, self.page + step)

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(int(str(event.option.id)))

    def action_cancel(self) -> None:
        """Close without jumping."""
        self.dismiss(None)
