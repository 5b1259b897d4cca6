"""Edit a message (action 6, with archived branches) and regenerate a reply (action 20)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Header, Label, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from apsara_tui.keys import PANEL_BINDING
from apsara_tui.screens.chat_base import ChatBaseScreen
from apsara_tui.widgets.chat_log import WINDOW, ChatLog
from apsara_tui.widgets.confirm import ConfirmModal
from apsara_tui.widgets.model_panel import DEFAULT_MODEL, ModelPanel

EDIT_HINT = "Enter on a message (left) puts it here · edit · ctrl+s saves and regenerates"


def message_option(message: dict[str, Any]) -> Option:
    """`#7 the first words of the text…` with the message id as option id."""
    text = " ".join(((message.get("content") or {}).get("text") or "").split())
    edited = " (edited)" if message.get("isEdited") else ""
    return Option(
        Text(f"#{message.get('messageSequence')} {text[:60]}{edited}"), id=message["messageId"]
    )


def branch_option(branch: dict[str, Any]) -> Option:
    """`from #3 · edit · 2 messages · 11-26 04:10` with the branch id as option id."""
    when = branch.get("archivedAt")
    stamp = f"{when:%m-%d %H:%M}" if hasattr(when, "strftime") else ""
    count = len(branch.get("messages") or [])
    return Option(
        Text(
            f"from #{branch.get('anchorSequence')} · {branch.get('reason')} · {count} msg · {stamp}"
        ),
        id=branch["branchId"],
    )


class _PickMessageScreen(ChatBaseScreen):
    """Lists the conversation's messages of one role, newest first."""

    ROLE = "user"

    def __init__(self) -> None:
        super().__init__()
        self.messages: dict[str, dict[str, Any]] = {}

    def on_mount(self) -> None:
        self.query_one("#pick", OptionList).focus()
        self.reload()

    def reload(self) -> Any:
        """Refill the screen (each screen's own worker)."""
        raise NotImplementedError

    async def reload_messages(self) -> None:
        """Refill the message list from the newest window."""
        recent = (
            await self.call_as(
                lambda me: self.core.conversations.messages(
                    actor=me, conversation_id=self.conversation_id, limit=WINDOW
                ),
                for_user=True,
            )
            or []
        )
        mine = [m for m in reversed(recent) if m.get("role") == self.ROLE]
        self.messages = {m["messageId"]: m for m in mine}
        options = self.query_one("#pick", OptionList)
        options.clear_options()
        options.add_options([message_option(m) for m in mine])
        if mine:
            options.highlighted = 0

    async def later(self, message: dict[str, Any]) -> int | None:
        """How many messages follow `message` (what editing or regenerating it archives)."""
        return await self.call_as(
            lambda me: self.core.conversations.later_count(
                actor=me, conversation_id=self.conversation_id, message_id=message["messageId"]
            ),
            for_user=True,
        )

    def chosen(self) -> dict[str, Any] | None:
        """The highlighted message."""
        options = self.query_one("#pick", OptionList)
        if options.highlighted is None or not options.option_count:
            return None
        return self.messages.get(str(options.get_option_at_index(options.highlighted).id))


class EditMessageScreen(_PickMessageScreen):
    """Pick one of your messages, edit it, and watch the new reply; earlier branches are restorable."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Save & reply"),
        Binding("ctrl+r", "restore", "Restore branch"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.branches: dict[str, dict[str, Any]] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="edit-main"):
            with Vertical(id="edit-left"):
                yield Label("Your messages: ↑↓ pick · Enter edits it")
                yield OptionList(id="pick")
                yield Label("Archived branches: Enter or ctrl+r restores")
                yield OptionList(id="branches", disabled=True)
            with Vertical(id="edit-right"):
                yield Static(EDIT_HINT, id="edit-hint")
                yield TextArea(id="edit-text", soft_wrap=True)
                yield ChatLog(id="edit-log")
        yield Footer()

    @work(exclusive=True, group="load")
    async def reload(self) -> None:
        """Refill the messages and the branches."""
        await self.reload_messages()
        branches = (
            await self.call_as(
                lambda me: self.core.conversations.branches(
                    actor=me, conversation_id=self.conversation_id
                ),
                for_user=True,
            )
            or []
        )
        self.branches = {b["branchId"]: b for b in branches}
        options = self.query_one("#branches", OptionList)
        options.clear_options()
        options.add_options([branch_option(b) for b in reversed(branches)])
        options.disabled = not branches  # an empty list takes no focus (Tab skips it)
        if branches:  # the first row counts: restore acts on it (previewed once focused)
            with options.prevent(OptionList.OptionHighlighted):
                options.highlighted = 0

    @on(OptionList.OptionHighlighted, "#pick")
    def _show_message(self) -> None:
        if (message := self.chosen()) is not None:
            self.query_one("#edit-text", TextArea).text = (message.get("content") or {}).get(
                "text", ""
            )

    @on(OptionList.OptionSelected, "#pick")
    def _edit_message(self) -> None:
        self.query_one("#edit-text", TextArea).focus()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        options = self.query_one("#branches", OptionList)
        if event.widget is options and options.option_count:
            self._preview(str(options.get_option_at_index(options.highlighted or 0).id))

    @on(OptionList.OptionHighlighted, "#branches")
    def _preview_branch(self, event: OptionList.OptionHighlighted) -> None:
        self._preview(str(event.option.id))

    def _preview(self, branch_id: str) -> None:
        branch = self.branches.get(branch_id) or {}
        self.run_worker(
            self.query_one(ChatLog).show_window(branch.get("messages") or []),
            group="preview",
            exclusive=True,
        )

    @on(OptionList.OptionSelected, "#branches")
    def _branch_selected(self) -> None:
        self.action_restore()

    def action_save(self) -> None:
        """Ask (naming what gets archived), then save the edited text and stream the new reply."""
        message, text = self.chosen(), self.query_one("#edit-text", TextArea).text
        if message is None:
            self.notify("Pick one of your messages first.", severity="warning")
        elif not text.strip():
            self.notify("The message text cannot be empty.", severity="warning")
        else:
            self.confirm_save(message, text)

    @work(exclusive=True, group="ask")
    async def confirm_save(self, message: dict[str, Any], text: str) -> None:
        """Name how many later messages the edit archives and ask; an unchanged text goes
        straight to the core, which refuses it with its reason."""
        unchanged = text.strip() == ((message.get("content") or {}).get("text") or "").strip()
        later = 0 if unchanged else await self.later(message)
        if later is None:
            return
        if not later:
            self.save(message, text)
            return
        seq = message.get("messageSequence")
        body = (
            f"The {later} message{'s' if later != 1 else ''} after #{seq} are kept as an "
            "earlier version (in the chat, [ and ] on the message switch back; ctrl+r here "
            "restores), and a new reply is generated."
        )
        self.app.push_screen(
            ConfirmModal(f"Save the edit of #{seq}?", body, confirm="Save", danger=False),
            lambda yes: self.save(message, text) if yes else None,
        )

    @work(exclusive=True, group="save")
    async def save(self, message: dict[str, Any], text: str) -> None:
        """Edit `message`, show the new reply as it streams, then list the archived branch."""
        log = self.query_one(ChatLog)
        await log.show_window([{**message, "content": {"text": text}, "isEdited": True}])
        model = (message.get("config") or {}).get("model") or DEFAULT_MODEL
        events = self.speaking(
            lambda me: self.core.chat.stream_edit(
                actor=me,
                conversation_id=self.conversation_id,
                message_id=message["messageId"],
                new_text=text,
                model=model,
            )
        )
        if await self.stream_reply(log, events) is not None:
            self.notify(
                "Edited; the replaced messages are kept as an earlier version "
                "(in the chat, [ and ] on the message switch between them).",
                title="Edited",
            )
        if self.is_attached:
            self.reload()

    def action_restore(self) -> None:
        """Ask, then bring the highlighted branch back."""
        options = self.query_one("#branches", OptionList)
        if not options.option_count:
            self.notify("There is no archived branch to restore.", severity="warning")
            return
        branch = self.branches[str(options.get_option_at_index(options.highlighted or 0).id)]
        body = (
            f"The branch's {len(branch.get('messages') or [])} messages come back from "
            f"#{branch.get('anchorSequence')} on; the messages they replace are archived as a new branch."
        )
        self.app.push_screen(
            ConfirmModal("Restore this branch?", body, confirm="Restore", danger=False),
            lambda yes: self.restore(branch["branchId"]) if yes else None,
        )

    @work(exclusive=True, group="save")
    async def restore(self, branch_id: str) -> None:
        """Restore `branch_id` and refresh the lists."""
        done = await self.call_as(
            lambda me: self.core.conversations.restore_branch(
                actor=me, conversation_id=self.conversation_id, branch_id=branch_id
            ),
            for_user=True,
        )
        if done is not None:
            self.notify(f"Restored {done.get('restored', 0)} messages.", title="Restored")
            self.reload()


class RegenerateScreen(_PickMessageScreen):
    """Regenerate the last reply or a chosen one, with the model and config of the side panel."""

    ROLE = "model"
    BINDINGS = [Binding("ctrl+l", "regenerate_last", "Regenerate last"), PANEL_BINDING]

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="regen-main"):
            with Vertical(id="regen-left"):
                yield Label("Replies (Enter regenerates; ctrl+l the last)")
                yield OptionList(id="pick")
                yield ChatLog(id="regen-log")
            yield ModelPanel(id="model-panel")
        yield Footer()

    @work(exclusive=True, group="load")
    async def reload(self) -> None:
        """Refill the replies and the quota."""
        await self.reload_messages()
        await self.refresh_quota(self.query_one(ModelPanel))

    @on(OptionList.OptionSelected, "#pick")
    def _selected(self) -> None:
        if (message := self.chosen()) is not None:
            self.confirm_regenerate(message)

    @work(exclusive=True, group="ask")
    async def confirm_regenerate(self, message: dict[str, Any]) -> None:
        """Regenerate a reply at once when it is the last; otherwise name how many later
        messages are archived with it, and ask first."""
        later = await self.later(message)
        if later is None:
            return
        if not later:
            self._start(message["messageId"])
            return
        seq = message.get("messageSequence")
        body = (
            f"Reply #{seq} and the {later} message{'s' if later != 1 else ''} after it stay "
            "reachable as an earlier version: in the chat (action 4) the new reply shows a "
            "version mark (‹ 2/2 ›), and [ on it switches back with all that followed. A new reply "
            f"follows #{seq}'s question."
        )
        self.app.push_screen(
            ConfirmModal(f"Regenerate #{seq}?", body, confirm="Regenerate", danger=False),
            lambda yes: self._start(message["messageId"]) if yes else None,
        )

    def action_regenerate_last(self) -> None:
        """Regenerate the conversation's last reply."""
        self._start(None)

    def _start(self, message_id: str | None) -> None:
        panel = self.query_one(ModelPanel)
        if problems := panel.problems():
            self.notify("\n".join(problems), title="Check the side panel", severity="warning")
            return
        self.regenerate(message_id, panel.model, panel.config())

    @work(exclusive=True, group="save")
    async def regenerate(self, message_id: str | None, model: str, config: dict[str, Any]) -> None:
        """Stream a new version of the reply; the previous one is kept as an earlier version."""
        log = self.query_one(ChatLog)
        await log.show_window([])
        events = self.speaking(
            lambda me: self.core.chat.stream_regenerate(
                actor=me,
                conversation_id=self.conversation_id,
                message_id=message_id,
                model=model,
                config=config,
            )
        )
        if await self.stream_reply(log, events) is not None:
            self.notify(
                "Regenerated; the previous reply (and what followed it) is kept as an earlier "
                "version: [ and ] on the reply in the chat switch between them.",
                title="Regenerated",
            )
        if self.is_attached:
            self.reload()
