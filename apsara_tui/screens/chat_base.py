"""What the conversation and chat screens share: the acting user, errors, a streamed reply."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timezone
from typing import Any

from textual.widgets import Static

from apsara_core.errors import ApsaraError, RateLimitError
from apsara_core.models import Principal
from apsara_tui.screens.base import CoreScreen
from apsara_tui.widgets.chat_log import WINDOW, ChatLog, MessageView, usage_metadata
from apsara_tui.widgets.model_panel import ModelPanel

NO_USER = "Choose a user first (action 10)."
NO_CONVERSATION = "Choose a conversation first (action 3), or create one (action 1)."
NOT_THEIRS = "The current conversation belongs to another user: choose one of this user's (action 3)."


def when(moment: datetime) -> str:
    """`2026-11-27 00:00 UTC (in 3h 12m)`."""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    left = int((moment - datetime.now(timezone.utc)).total_seconds())
    hours, minutes = divmod(max(0, left) // 60, 60)
    return f"{moment.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC (in {hours}h {minutes}m)"


def describe_error(exc: BaseException) -> str:
    """One line for the user; a rate limit names its reset time."""
    if isinstance(exc, RateLimitError):
        reset = f" Resets {when(exc.reset_time)}." if exc.reset_time else ""
        return f"{exc.title}: {exc.message}{reset}"
    if isinstance(exc, ApsaraError):
        hint = f" → {exc.suggestions[0]}" if exc.suggestions else ""
        return f"{exc.title}: {exc.message}{hint}"
    return f"Unexpected error: {exc}"


def conversation_label(conv: dict[str, Any]) -> str:
    """`Title (12 messages)`."""
    count = (conv.get("stats") or {}).get("totalMessages", 0)
    return f"{conv.get('title') or '(untitled)'} ({count} message{'s' if count != 1 else ''})"


class ChatBaseScreen(CoreScreen):
    """A CoreScreen that knows the chosen user and conversation and can stream a reply."""

    NEEDS_CONVERSATION = True

    @property
    def user(self) -> dict[str, Any] | None:
        """The chosen user document, if any."""
        return self.apsara.current_user

    async def speaker(self) -> Principal:
        """Who acts in the chosen user's conversations (the core's actor rule)."""
        return await self.acting(for_user=True)

    async def speaking(self, start: Callable[[Principal], AsyncIterator[Any]]) -> AsyncIterator[Any]:
        """The events of `start(speaker)`; resolving the speaker fails like the stream would."""
        async for event in start(await self.speaker()):
            yield event

    @property
    def conversation_id(self) -> str:
        """The chosen conversation's id ("" when none)."""
        return (self.apsara.current_conversation or {}).get("conversationId", "")

    def missing(self) -> str | None:
        """Why this screen cannot work yet (no user, no conversation), or None."""
        if not self.user:
            return NO_USER
        if self.NEEDS_CONVERSATION and not self.conversation_id:
            return NO_CONVERSATION
        owner = (self.apsara.current_conversation or {}).get("userId")
        if self.NEEDS_CONVERSATION and owner and owner != self.user.get("_id"):
            return NOT_THEIRS
        return None

    def on_unmount(self) -> None:
        # Leaving mid-reply cancels the stream at once: the core stores the partial reply
        # as interrupted, and no widget of this (removed) screen is touched afterwards.
        self.workers.cancel_node(self)

    def placeholder(self) -> Static:
        """The line shown instead of the screen's body when `missing()` says why."""
        return Static(self.missing() or "", id="missing", classes="missing")

    def fail(self, exc: BaseException) -> str:
        """Notify about `exc` (never raise) and return its one-line description."""
        text = describe_error(exc)
        severity = "warning" if isinstance(exc, RateLimitError) else "error"
        self.notify(text, title=getattr(exc, "title", "Error"), severity=severity, timeout=10)
        return text

    async def load_window(self, log: ChatLog) -> None:
        """Show the newest window of the conversation's messages."""
        messages = await self.call_as(lambda me: self.core.conversations.messages(
            actor=me, conversation_id=self.conversation_id, limit=WINDOW), for_user=True)
        await log.show_window(messages or [])

    async def load_older(self, event: ChatLog.OlderWanted) -> None:
        """Prepend the page before `event.before_sequence` (called from a worker)."""
        older = await self.call_as(lambda me: self.core.conversations.messages(
            actor=me, conversation_id=self.conversation_id,
            before_sequence=event.before_sequence, limit=WINDOW), for_user=True)
        if older is None:  # the error is notified; scrolling up again retries
            event.log.loading_older = False
            return
        await event.log.prepend(older)

    async def stream_reply(self, log: ChatLog, events: AsyncIterator[Any]) -> dict[str, Any] | None:
        """Stream a reply into a new view of `log`; return the `done` response or None.

        Thoughts go to the dimmed collapsible block, text to the body; usage and timing
        follow the reply. A failure (a rate limit with its reset time, a provider error)
        is shown inline and as a notification; it never escapes.
        """
        view: MessageView = await log.add({"role": "model", "content": {}}, streaming=True)
        started, first, done = time.perf_counter(), None, None
        try:
            async for event in events:
                if event.kind in ("thought", "text") and first is None:
                    first = (time.perf_counter() - started) * 1000
                if event.kind == "thought":
                    view.append_thought(event.text)
                elif event.kind == "text":
                    view.append_text(event.text)
                elif event.kind == "done":
                    done = event.data
        except Exception as exc:  # noqa: BLE001 - shown to the user, never a crash
            view.finish({"status": "error"}, error=self.fail(exc))
            return None
        total = (time.perf_counter() - started) * 1000
        view.finish(usage_metadata(done or {}, first, total), sequence=(done or {}).get("messageSequence"))
        return done

    async def refresh_quota(self, panel: ModelPanel) -> None:
        """Show the chosen user's quota for today in `panel`, offering the models that chat."""
        if not self.user:
            return
        info = await self.call_as(lambda me: self.core.limits.quota(actor=me), for_user=True)
        try:
            models: list[str] | None = self.core.providers.known_models()
        except Exception:  # noqa: BLE001 - no provider list: offer what the plan names
            models = None
        panel.show_quota(info, chat_models=models)
