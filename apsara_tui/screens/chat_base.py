"""What the chat screens share: the conversation, who speaks, a window of messages, a
streamed reply and the quota. They need a current user and their current conversation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing, suppress
from typing import Any, ClassVar

from textual.actions import SkipAction
from textual.worker import Worker, get_current_worker

from apsara_core.models import Principal
from apsara_core.models.views import ConversationView
from apsara_tui.gc_pause import long_lived_frozen
from apsara_tui.screens.base import CoreScreen, Need
from apsara_tui.widgets.chat_log import WINDOW, ChatLog, MessageView, usage_metadata
from apsara_tui.widgets.model_panel import ModelPanel


def conversation_label(conv: ConversationView) -> str:
    """`Title (12 messages)`."""
    count = conv.message_count
    return f"{conv.title or '(untitled)'} ({count} message{'s' if count != 1 else ''})"


class ChatBaseScreen(CoreScreen):
    """A CoreScreen over the current conversation that can stream a reply."""

    NEEDS: ClassVar[tuple[Need, ...]] = ("user", "conversation")

    def __init__(self) -> None:
        super().__init__()
        self.reply_worker: Worker[Any] | None = None
        self.reply_started = False
        """Whether the last stream passed the core's checks ("started": the prompt is stored)."""

    @property
    def replying(self) -> bool:
        """True while a reply streams into this screen."""
        return self.reply_worker is not None and not self.reply_worker.is_finished

    def action_stop(self) -> None:
        """Stop the streaming reply (ctrl+c); the core keeps the partial reply, interrupted."""
        if not self.replying:
            raise SkipAction()
        self.run_worker(self.stop_reply(), group="stop", exclusive=True)

    async def stop_reply(self) -> None:
        """Cancel the reply and wait until the core has settled it, then `after_stop`."""
        worker = self.reply_worker
        if worker is None or worker.is_finished:
            return
        worker.cancel()
        with suppress(Exception):
            await worker.wait()
        if self.is_attached:
            await self.after_stop()

    async def after_stop(self) -> None:
        """What a screen shows once a stopped reply is settled (the chat reloads its window)."""
        self.notify("Stopped: what had arrived is kept, marked interrupted.", title="Stopped")

    async def speaker(self) -> Principal:
        """Who acts in the chosen user's conversations (the core's actor rule)."""
        return await self.acting(for_user=True)

    async def speaking(
        self, start: Callable[[Principal], AsyncGenerator[Any, None]]
    ) -> AsyncGenerator[Any, None]:
        """The events of `start(speaker)`; resolving the speaker fails like the stream would.
        Closing this closes the core's stream too (it stores a partial reply then)."""
        async with aclosing(start(await self.speaker())) as events:
            async for event in events:
                yield event

    @property
    def conversation_id(self) -> str:
        """The current conversation's id ("" when none)."""
        conv = self.apsara.current_conversation
        return conv.conversation_id if conv else ""

    def on_unmount(self) -> None:
        # Leaving mid-reply cancels the stream at once: the core stores the partial reply
        # as interrupted, and no widget of this (removed) screen is touched afterwards.
        self.workers.cancel_node(self)

    def action_toggle_panel(self) -> None:
        """Show or hide the model panel (more room for the history at 80 columns)."""
        panel = self.query_one(ModelPanel)
        panel.display = not panel.display

    async def load_window(self, log: ChatLog) -> None:
        """Show the newest window of the conversation's messages."""
        messages = await self.call_as(
            lambda me: self.core.conversations.messages(
                actor=me, conversation_id=self.conversation_id, limit=WINDOW
            ),
            for_user=True,
        )
        await log.show_window(messages or [])

    async def load_older(self, event: ChatLog.OlderWanted) -> None:
        """Prepend the page before `event.before_sequence` (called from a worker)."""
        older = await self.call_as(
            lambda me: self.core.conversations.messages(
                actor=me,
                conversation_id=self.conversation_id,
                before_sequence=event.before_sequence,
                limit=WINDOW,
            ),
            for_user=True,
        )
        if older is None:  # the error is notified; scrolling up again retries
            event.log.loading_older = False
            return
        await event.log.prepend(older)

    async def stream_reply(
        self, log: ChatLog, events: AsyncGenerator[Any, None]
    ) -> dict[str, Any] | None:
        """Stream a reply into a new view of `log`; return the `done` response or None.

        Thoughts go to the dimmed collapsible block, text to the body; usage and timing
        follow the reply. A failure (a rate limit with its reset time, a provider error)
        is shown inline and as a notification; it never escapes.
        """
        with long_lived_frozen():  # no full collection over the whole app mid-stream
            return await self._stream_into(log, events)

    async def _stream_into(
        self, log: ChatLog, events: AsyncGenerator[Any, None]
    ) -> dict[str, Any] | None:
        view: MessageView = await log.add({"role": "model", "content": {}}, streaming=True)
        started, first, done = time.perf_counter(), None, None
        self.reply_worker, self.reply_started = get_current_worker(), False
        try:
            # Closed on the way out, whatever ends the loop: a stop may land here rather than
            # inside the core's stream, and the partial reply is then stored before this worker
            # ends (not later, by the garbage collector, after the window was reloaded).
            async with aclosing(events) as stream:
                async for event in stream:
                    if event.kind == "started":
                        self.reply_started = True
                    if event.kind in ("thought", "text") and first is None:
                        first = (time.perf_counter() - started) * 1000
                    if event.kind == "thought":
                        view.append_thought(event.text)
                    elif event.kind == "text":
                        await view.append_text(event.text)
                        # Chunks that queued up while a frame was painted arrive without a
                        # wait: let a key press (or a repaint) in between each of them.
                        await asyncio.sleep(0)
                    elif event.kind == "done":
                        done = event.data
        except asyncio.CancelledError:  # stopped (ctrl+c) or left: the core keeps what arrived
            await asyncio.shield(view.end_stream())
            view.finish({"status": "interrupted", "error": {"code": "CANCELLED"}})
            raise
        except Exception as exc:  # noqa: BLE001 - shown to the user, never a crash
            await view.end_stream()
            view.finish({"status": "error"}, error=self.report(exc).line())
            return None
        total = (time.perf_counter() - started) * 1000
        with self.app.batch_update():  # the final body, usage line and number: one layout
            await view.end_stream()
            view.finish(
                usage_metadata(done or {}, first, total),
                sequence=(done or {}).get("messageSequence"),
            )
        if done and done.get("modelMessageId"):  # the message keys (delete, versions) need it
            view.message["messageId"] = done["modelMessageId"]
        return done

    async def refresh_quota(self, panel: ModelPanel) -> None:
        """Show the chosen user's quota for today in `panel`, offering the models that chat."""
        if not self.user:
            return
        info = await self.call_as(lambda me: self.core.limits.quota(actor=me), for_user=True)
        try:  # every provider's models, declared instances included
            await self.core.provider_catalog.sync()
            models: list[str] | None = self.core.providers.known_models()
        except Exception:  # noqa: BLE001 - no provider list: offer what the plan names
            models = None
        panel.show_quota(info, chat_models=models)
