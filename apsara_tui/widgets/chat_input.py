"""The message box: Enter sends, ctrl+j adds a line (Shift+Enter too, where the terminal tells
it apart). While a reply streams the box stays writable; only sending waits."""

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
        Binding("ctrl+j", "newline", "New line", key_display="ctrl+j"),
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
        placeholder: str = "Message  (Enter sends · ctrl+j new line)",
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
        """Hold sending (while a reply streams) or release it; typing goes on either way."""
        self.locked = locked
        self.set_class(locked, "-locked")
        self.border_subtitle = (
            "reply streaming: type on · Enter waits · ctrl+c stops" if locked else ""
        )

    def restore(self, text: str) -> None:
        """Put a message that was not sent back, before anything typed since."""
        self.text = f"{text}\n{self.text}" if self.text.strip() else text
        self.move_cursor(self.document.end)

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
        """Insert a line break (ctrl+j)."""
        if not self.read_only:
            self.insert("\n")

    def _submit(self) -> None:
        if self.locked:
            self.notify(
                "A reply is streaming: your text stays here; press Enter again once it ends "
                "(ctrl+c stops it).",
                severity="warning",
            )
            return
        text = self.text
        if not text.strip():
            self.notify("Type a message first.", severity="warning")
            return
        self.post_message(self.Submitted(self, text))
