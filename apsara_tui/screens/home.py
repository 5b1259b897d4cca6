"""Home: the 21 management actions as a menu, on number keys, and in the palette."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.events import Key
from textual.screen import Screen
from textual.widgets import Footer, Header, OptionList, Static
from textual.widgets.option_list import Option

from apsara_tui.actions import ACTIONS, BY_NUMBER

if TYPE_CHECKING:
    from apsara_tui.app import ApsaraApp

NUMBER_DELAY_S = 0.6
LATE_S = 0.1
HINT = "Type a number, or ↑↓ and Enter. ctrl+p searches · F1 or ? help."


def _starts_longer(typed: str) -> bool:
    """Whether some action's number is `typed` followed by more digits (1 → 10–19)."""
    return any(str(a.number).startswith(typed) and str(a.number) != typed for a in ACTIONS)


def _prompt(number: int) -> Text:
    action = BY_NUMBER[number]
    text = Text(f"{number:>2}  {action.title}", style="" if action.enabled else "dim")
    if not action.enabled:
        text.append(f"  ({action.unavailable})", style="dim italic")
    return text


class HomeScreen(Screen[None]):
    """The menu. Type an action's number (e.g. 1 then 1 for 11), or pick it and press Enter."""

    BINDINGS = [
        Binding("ctrl+p", "app.command_palette", "Palette"),
        Binding("k", "app.open_keys", "API keys"),
        Binding("q", "app.quit", "Quit"),
    ]

    def on_screen_resume(self) -> None:
        # Back on Home: the header's subtitle is fitted beside the app's title again.
        cast("ApsaraApp", self.app).update_subtitle()

    def __init__(self) -> None:
        super().__init__()
        self._typed = ""
        self._typed_at = 0.0
        self._rechecked = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield OptionList(
            *[
                Option(_prompt(a.number), id=f"action-{a.number}", disabled=not a.enabled)
                for a in ACTIONS
            ],
            id="menu",
        )
        yield Static(HINT, id="detail")
        yield Footer()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        action = BY_NUMBER[int(str(event.option.id).split("-")[1])]
        self.query_one("#detail", Static).update(f"{action.number}. {action.help}")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self._open(int(str(event.option.id).split("-")[1]))

    def on_key(self, event: Key) -> None:
        if event.character and event.character.isdigit():
            event.stop()
            self._typed += event.character
            if len(self._typed) >= 2 or not _starts_longer(self._typed):
                self._flush()
            else:  # "1" or "2" may be the start of 10–21: say so while waiting
                longer = [
                    a.number
                    for a in ACTIONS
                    if str(a.number).startswith(self._typed) and str(a.number) != self._typed
                ]
                self.query_one("#detail", Static).update(
                    f"Typed {self._typed}… a second digit opens {longer[0]}–{longer[-1]}; "
                    f"otherwise {self._typed} opens in a moment."
                )
                self._typed_at, self._rechecked = time.monotonic(), False
                self.set_timer(NUMBER_DELAY_S, self._expire)

    def _expire(self) -> None:
        """The wait for a second digit is over. A timer that fires late means the loop was
        busy (a loaded machine), so a second key may still be queued: look once more."""
        late = time.monotonic() - self._typed_at - NUMBER_DELAY_S
        if late > LATE_S and not self._rechecked:
            self._rechecked = True
            self.set_timer(LATE_S, self._expire)
            return
        self._flush()

    def _flush(self) -> None:
        typed, self._typed = self._typed, ""
        self.query_one("#detail", Static).update(HINT)
        if typed:
            self._open(int(typed))

    def _open(self, number: int) -> None:
        from apsara_tui.app import ApsaraApp

        cast(ApsaraApp, self.app).open_action(number)
