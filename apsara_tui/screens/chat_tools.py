"""Rename and export the current conversation from the chat screens (ctrl+n, ctrl+g).

The export is the core's (`conversations.export`): JSON or Markdown by the file's ending,
written to the path typed in the dialog.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from textual.binding import Binding

from apsara_core.models.views import ConversationView
from apsara_tui.screens.chat_base import ChatBaseScreen
from apsara_tui.widgets.confirm import PromptModal

TOOL_BINDINGS = [
    Binding("ctrl+n", "rename", "Rename", show=False),
    Binding("ctrl+g", "export", "Export", show=False),
]


def default_export_path(title: str) -> str:
    """`./trip-planning.md` from the title."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "conversation"
    return str(Path.cwd() / f"{slug}.md")


class ConversationTools(ChatBaseScreen):
    """A chat screen that can rename and export its conversation."""

    def action_rename(self) -> None:
        """Ask for a new title (the current one offered)."""
        conv = self.apsara.current_conversation
        self.app.push_screen(
            PromptModal("Rename the conversation", conv.title if conv else ""),
            lambda title: self.rename(title) if title is not None else None,
        )

    async def rename(self, title: str) -> None:
        """Rename in the core; the header follows."""
        updated = await self.call_as(
            lambda me: self.core.conversations.update(
                actor=me, conversation_id=self.conversation_id, title=title
            ),
            for_user=True,
        )
        if updated is not None:
            self.apsara.current_conversation = ConversationView.of(updated)
            self.notify(f"Renamed to {updated['title']!r}.", title="Renamed")

    def action_export(self) -> None:
        """Ask where to write the export (.json: JSON, anything else: Markdown)."""
        conv = self.apsara.current_conversation
        self.app.push_screen(
            PromptModal(
                "Export the conversation to a file",
                default_export_path(conv.title if conv else ""),
                hint="A path ending in .json writes JSON; any other ending writes Markdown.",
            ),
            lambda path: self.export(path) if path else None,
        )

    async def export(self, path: str) -> None:
        """Write the core's export of the conversation to `path`."""
        target = Path(path).expanduser()
        fmt = "json" if target.suffix.lower() == ".json" else "markdown"
        text = await self.call_as(
            lambda me: self.core.conversations.export(
                actor=me, conversation_id=self.conversation_id, fmt=fmt
            ),
            for_user=True,
        )
        if text is None:
            return
        try:
            await asyncio.to_thread(target.write_text, text, encoding="utf-8")
        except OSError as exc:
            self.notify(f"Could not write {target}: {exc.strerror}", severity="error")
            return
        self.notify(f"Exported as {fmt} to {target} ({len(text)} characters).", title="Exported")
