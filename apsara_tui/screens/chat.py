"""Chat (action 4) and the conversation's messages (action 5)."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Header, Static

from apsara_tui.keys import PANEL_BINDING, STOP_BINDING
from apsara_tui.screens.chat_messages import MESSAGE_BINDINGS, MessageTools
from apsara_tui.screens.chat_tools import TOOL_BINDINGS
from apsara_tui.widgets.chat_input import ChatInput
from apsara_tui.widgets.chat_log import ChatLog, MessageView
from apsara_tui.widgets.model_panel import ModelPanel


class ChatScreen(MessageTools):
    """The chat: history, the reply streaming in live, the model panel and the quota left."""

    BINDINGS = [
        STOP_BINDING,
        PANEL_BINDING,
        Binding("ctrl+o", "log('toggle_thoughts')", "Thoughts"),
        Binding("ctrl+y", "log('copy')", "Copy reply", priority=True),
        *TOOL_BINDINGS,
        *MESSAGE_BINDINGS,
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="chat-main"):
            yield ChatLog(id="chat-log", message_keys=True)
            yield ModelPanel(id="model-panel")
        yield ChatInput(id="chat-input")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(ChatInput).focus()
        self._open()

    @work(exclusive=True, group="open")
    async def _open(self) -> None:
        await self.load_window(self.query_one(ChatLog))
        await self.refresh_quota(self.query_one(ModelPanel))

    def action_log(self, action: str) -> None:
        """Run a chat-log action (thoughts, copy) from anywhere on the screen."""
        getattr(self.query_one(ChatLog), f"action_{action}")()

    @on(ChatLog.OlderWanted)
    def _older(self, event: ChatLog.OlderWanted) -> None:
        self.run_worker(self.load_older(event), group="older", exclusive=True)

    @on(ChatInput.Submitted)
    def _send(self, event: ChatInput.Submitted) -> None:
        panel = self.query_one(ModelPanel)
        if problems := panel.problems():
            self.notify("\n".join(problems), title="Check the side panel", severity="warning")
            return
        event.chat_input.clear()
        self.send(event.text, panel.model, panel.config())

    @work(exclusive=True, group="send")
    async def send(self, text: str, model: str, config: dict) -> None:
        """Store and show the user's message, then stream the reply into the log.

        The box stays writable while the reply streams (only sending waits). A message the
        core refused before storing it (quota, bad input) is marked "not sent" and its text
        goes back into the box.
        """
        chat_input, log = self.query_one(ChatInput), self.query_one(ChatLog)
        chat_input.set_locked()
        try:
            mine = await log.add({"role": "user", "content": {"text": text}}, follow=True)
            events = self.speaking(
                lambda me: self.core.chat.stream(
                    actor=me,
                    conversation_id=self.conversation_id,
                    text=text,
                    model=model,
                    config=config,
                )
            )
            done = await self.stream_reply(log, events)
            if done and done.get("messageSequence"):
                mine.set_sequence(done["messageSequence"] - 1)
                mine.message["messageId"] = done.get("userMessageId")
            elif not self.reply_started:
                mine.mark_not_sent()
                chat_input.restore(text)
            else:
                await self.number_stored(mine)
        finally:
            if chat_input.is_attached:
                chat_input.set_locked(False)
                chat_input.focus()
        if self.is_attached:
            await self.refresh_quota(self.query_one(ModelPanel))

    async def number_stored(self, mine: MessageView) -> None:
        """After a failed reply, show the sequence the core stored the user's message under."""
        recent = await self.call_as(
            lambda me: self.core.conversations.messages(
                actor=me, conversation_id=self.conversation_id, limit=2
            ),
            for_user=True,
        )
        for message in recent or []:
            if message.get("role") == "user" and message["content"].get("text") == mine.text:
                mine.set_sequence(message["messageSequence"])
                mine.message["messageId"] = message["messageId"]

    async def after_stop(self) -> None:
        """Show what the core kept of the stopped reply (numbered, marked interrupted)."""
        await self.load_window(self.query_one(ChatLog))
        views = self.query_one(ChatLog).views
        kept = bool(views) and views[-1].message.get("role") == "model"
        self.notify(
            "Stopped: the partial reply is kept, marked interrupted."
            if kept
            else "Stopped before any reply text arrived: nothing was kept, the quota unit is "
            "refunded.",
            title="Stopped",
        )
        await self.refresh_quota(self.query_one(ModelPanel))


class MessagesScreen(MessageTools):
    """The chosen conversation's messages, newest window first; older pages load at the top."""

    BINDINGS = [
        Binding("home", "older", "Older", priority=True),
        Binding("end", "newest", "Newest", priority=True),
        *MESSAGE_BINDINGS,
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical():
            yield Static("", id="messages-title", markup=False)
            yield ChatLog(id="messages-log", message_keys=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(ChatLog).focus()
        self._open()

    @work(exclusive=True, group="open")
    async def _open(self) -> None:
        conv = await self.call_as(
            lambda me: self.core.conversations.view(actor=me, conversation_id=self.conversation_id),
            for_user=True,
        )
        if conv:
            self.query_one("#messages-title", Static).update(
                f"{conv.title} · {conv.message_count} messages · {conv.total_tokens} tokens"
                "  (Home: older)"
            )
        await self.load_window(self.query_one(ChatLog))

    @on(ChatLog.OlderWanted)
    def _older(self, event: ChatLog.OlderWanted) -> None:
        self.run_worker(self.load_older(event), group="older", exclusive=True)

    def action_older(self) -> None:
        """Scroll to the top; the page before it loads."""
        log = self.query_one(ChatLog)
        log.scroll_home(animate=False)
        log.want_older()

    def action_newest(self) -> None:
        """Scroll to the newest message."""
        self.query_one(ChatLog).scroll_end(animate=False)
