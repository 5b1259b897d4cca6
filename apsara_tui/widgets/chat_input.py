"""The message box: Enter sends, Shift+Enter (or ctrl+j) adds a line; locked while a reply streams."""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea

NEWLINE_KEYS = {"shift+enter", "ctrl+j", "alt+enter"}
"""Many terminals send Enter for Shift+Enter; ctrl+j and alt+enter also add a line."""


class ChatInput(TextArea):
    """A multi-line input that posts `ChatInput.Submitted` on Enter."""

    # Shown in the Footer; `_on_key` handles these keys first (TextArea would insert a newline).
    BINDINGS = [
        Binding("enter", "submit", "Send", key_display="⏎"),
        Binding("shift+enter", "newline", "New line", key_display="⇧⏎"),
    ]

    @dataclass
    class Submitted(Message):
        """The user pressed Enter on non-blank text."""

        chat_input: ChatInput
        text: str

        @property
        def control(self) -> ChatInput:
            return self.chat_input

    def __init__(
        self,
        *,
        placeholder: str = "Message  (Enter sends · Shift+Enter new line)",
        id: str | None = None,
    ) -> None:
        super().__init__(
            id=id,
            soft_wrap=True,
            show_line_numbers=False,
            tab_behavior="focus",
            placeholder=placeholder,
        )
        self.locked = False

    def set_locked(self, locked: bool = True) -> None:
        """Lock (while a reply streams) or unlock the input."""
        self.locked = locked
        self.read_only = locked
        self.set_class(locked, "-locked")

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self._submit()
        elif event.key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            self.action_newline()
        else:
            await super()._on_key(event)

    def action_submit(self) -> None:
        """Send the message (Enter)."""
        self._submit()

    def action_newline(self) -> None:
        """Insert a line break (Shift+Enter)."""
        if not self.read_only:
            self.insert("\n")

    def _submit(self) -> None:
        if self.locked:
            self.notify("A reply is streaming; wait for it to finish.", severity="warning")
            return
        text = self.text
        if not text.strip():
            self.notify("Type a message first.", severity="warning")
            return
        self.post_message(self.Submitted(self, text))
