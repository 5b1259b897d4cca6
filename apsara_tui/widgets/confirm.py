"""Question modals: ConfirmModal (yes/no naming what will happen), ChoiceModal (pick one) and
PromptModal (one line of text)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, OptionList, Static
from textual.widgets.option_list import Option


class ConfirmModal(ModalScreen[bool]):
    """Ask before a destructive or disruptive step; dismisses True only on an explicit yes.

    Args:
        title: the question, e.g. "Delete ada@example.com?".
        body: what will go or change, spelled out.
        confirm: the label of the yes button (say the verb: "Delete", "Switch").
        danger: style the yes button as destructive.
    """

    DEFAULT_CSS = """
    ConfirmModal { align: center middle; }
    ConfirmModal > Vertical {
        width: 64; max-width: 100%; height: auto; max-height: 100%;
        border: thick $error 60%; background: $surface; padding: 1 2;
    }
    ConfirmModal.-calm > Vertical { border: thick $primary 60%; }
    ConfirmModal #confirm-title { text-style: bold; margin-bottom: 1; }
    ConfirmModal #confirm-body { height: auto; max-height: 14; overflow-y: auto; }
    ConfirmModal Horizontal { height: auto; margin-top: 1; align-horizontal: right; }
    ConfirmModal Button { margin-left: 1; }
    """

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(
        self, title: str, body: str, *, confirm: str = "Delete", danger: bool = True
    ) -> None:
        super().__init__(classes="" if danger else "-calm")
        self._title, self._body, self._confirm, self._danger = title, body, confirm, danger

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self._title, id="confirm-title", markup=False)
            yield Static(self._body, id="confirm-body", markup=False)
            with Horizontal():
                yield Button("Cancel (n)", id="cancel")
                yield Button(
                    f"{self._confirm} (y)",
                    id="confirm",
                    variant="error" if self._danger else "primary",
                )

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()  # Enter alone must not destroy anything

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm")

    def action_answer(self, yes: bool) -> None:
        """Dismiss with the answer."""
        self.dismiss(yes)


class ChoiceModal(ModalScreen["str | None"]):
    """Pick one value from a short list (a plan, a role); escape dismisses None.

    Args:
        title: what is being chosen, naming whom it is for.
        choices: the values offered.
        current: the value now in force (highlighted, marked "current").
    """

    DEFAULT_CSS = """
    ChoiceModal { align: center middle; }
    ChoiceModal > Vertical {
        width: 50; max-width: 100%; height: auto; border: thick $primary 60%;
        background: $surface; padding: 1 2;
    }
    ChoiceModal #choice-title { text-style: bold; margin-bottom: 1; }
    ChoiceModal OptionList { height: auto; max-height: 10; }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, choices: list[str], current: str | None = None) -> None:
        super().__init__()
        self._title, self._choices, self._current = title, choices, current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self._title, id="choice-title", markup=False)
            yield OptionList(
                *[
                    Option(f"{c}  (current)" if c == self._current else c, id=c)
                    for c in self._choices
                ]
            )

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        if self._current in self._choices:
            options.highlighted = self._choices.index(self._current)
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(str(event.option.id))

    def action_cancel(self) -> None:
        """Close without choosing."""
        self.dismiss(None)


class PromptModal(ModalScreen["str | None"]):
    """Ask for one line of text (a new title, a file path); Enter answers, escape dismisses None.

    Args:
        title: what is asked, naming what it is for.
        value: the text offered to start from.
        hint: one line under the box (e.g. which formats a path may end with).
    """

    DEFAULT_CSS = """
    PromptModal { align: center middle; }
    PromptModal > Vertical {
        width: 70; max-width: 100%; height: auto; border: thick $primary 60%;
        background: $surface; padding: 1 2;
    }
    PromptModal #prompt-title { text-style: bold; margin-bottom: 1; }
    PromptModal #prompt-hint { color: $text-muted; height: auto; }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, value: str = "", hint: str = "") -> None:
        super().__init__()
        self._title, self._value, self._hint = title, value, hint

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self._title, id="prompt-title", markup=False)
            yield Input(self._value, id="prompt-input")
            yield Static(self._hint, id="prompt-hint", markup=False)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        """Close without an answer."""
        self.dismiss(None)
