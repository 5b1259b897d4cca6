"""The chat log: a window of `MessageView`s; older messages load when scrolled to the top.

Only a window (the newest `WINDOW` messages) is mounted when a conversation opens, so a
10,000-message conversation opens as fast as a short one. Scrolling to the top posts
`ChatLog.OlderWanted`; the screen fetches the page before it and calls `prepend`.
The log is anchored: it follows a growing reply only while the reader is at the bottom.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

from rich.markdown import Markdown
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Collapsible, Static
from textual.widgets import Markdown as MarkdownWidget

from apsara_tui.widgets.live_text import BlockEnds, HeightSettles, LiveText

WINDOW = 50
"""Messages mounted when a conversation opens, and fetched per older page."""
FIRST_PAINT = 10
"""Messages mounted before the first paint (more than a 40-row log shows); the rest follow at once."""
FLUSH_S = 0.04
"""Thoughts and plain bodies repaint at most this often while streaming (chunks are batched)."""
STREAM_FLUSH_S = 0.05
"""The streaming reply takes the text gathered since its last repaint this often (~20 times a
second). Each repaint costs the new text only: finished Markdown blocks are rendered once
(Markdown.append parses from the last block on), the block still arriving is a LiveText that
re-wraps its last row."""


def _num(value: Any) -> int | None:
    return value if isinstance(value, int) else None


def usage_line(metadata: dict[str, Any] | None) -> str:
    """`tokens 12 in · 30 out · 8 thinking · first chunk 120 ms · total 900 ms` from metadata."""
    meta = metadata or {}
    tokens, timing = meta.get("tokens") or {}, meta.get("timing") or {}
    parts = []
    for key, label in (("prompt", "in"), ("output", "out"), ("thoughts", "thinking")):
        if (n := _num(tokens.get(key))) is not None and (n or key != "thoughts"):
            parts.append(f"{n} {label}")
    line = ("tokens " + " · ".join(parts)) if parts else ""
    for key, label in (("firstChunkMs", "first chunk"), ("totalMs", "total")):
        if isinstance(timing.get(key), (int, float)):
            line += f"{' · ' if line else ''}{label} {timing[key]:.0f} ms"
    provider = meta.get("provider") or {}
    model = provider.get("model") or ""
    if model and provider.get("name"):  # which provider answered
        model = f"{model} via {provider['name']}"
    status = meta.get("status")
    if status and status != "complete":
        line = f"{status}{' · ' if line else ''}{line}"
    return f"{model} · {line}" if model and line else line or model


NORMAL_FINISH = (None, "", "STOP", "FINISH_REASON_UNSPECIFIED")
FINISH_WORDS = {
    "MAX_TOKENS": "cut off: the max tokens limit was reached (raise max tokens in the panel)",
    "SAFETY": "stopped for safety",
    "RECITATION": "stopped: recitation",
    "BLOCKLIST": "stopped: blocked terms",
    "PROHIBITED_CONTENT": "stopped: prohibited content",
    "SPII": "stopped: sensitive personal information",
    "MALFORMED_FUNCTION_CALL": "stopped: malformed function call",
}


def ended_line(metadata: dict[str, Any] | None) -> str:
    """Why a reply ended when it is not a normal stop ("" for a normal one): interrupted
    (stopped by you, or cut with the error), max tokens, safety."""
    meta = metadata or {}
    if meta.get("status") == "interrupted":
        error = meta.get("error") or {}
        if error.get("code") == "CANCELLED":
            return "⚠ interrupted: stopped before the end (the partial reply is kept)"
        why = error.get("message")
        return f"⚠ interrupted{': ' + why if why else ''} (the partial reply is kept)"
    reason = meta.get("finishReason")
    if reason in NORMAL_FINISH:
        return ""
    return f"⚠ {FINISH_WORDS.get(reason, f'ended: {str(reason).lower()}')}"


def usage_text(metadata: dict[str, Any] | None) -> Text:
    """The usage line, led by why the reply ended when that was not a normal stop."""
    text = Text()
    if ended := ended_line(metadata):
        text.append(ended, style="bold yellow")
        text.append("\n")
    text.append(usage_line(metadata))
    return text


def usage_metadata(done: dict[str, Any], first_ms: float | None, total_ms: float) -> dict[str, Any]:
    """Stored-metadata shape from a `done` response; the core's timing wins over ours."""
    usage, model_meta = done.get("usageMetadata") or {}, done.get("modelMetadata") or {}
    timing = model_meta.get("timing") or {"firstChunkMs": first_ms, "totalMs": total_ms}
    return {
        "tokens": {
            "prompt": usage.get("promptTokenCount"),
            "output": usage.get("candidatesTokenCount"),
            "thoughts": usage.get("thoughtsTokenCount", 0),
        },
        "timing": timing,
        "provider": {"model": model_meta.get("model"), "name": model_meta.get("provider")}
        if model_meta.get("model")
        else {},
        "finishReason": model_meta.get("finishReason"),
    }


class StreamingBody(HeightSettles, Vertical):
    """A streaming reply's body: its finished Markdown blocks, then the live block."""


class MessageView(HeightSettles, Vertical):
    """One message: role line, thoughts (collapsible, dimmed), text, and a usage line."""

    def __init__(self, message: dict[str, Any], *, streaming: bool = False) -> None:
        super().__init__(classes=f"-{message.get('role', 'user')}")
        self.message = message
        content = message.get("content") or {}
        self.text: str = content.get("text") or ""
        self.thoughts: str = content.get("thoughts") or ""
        self.streaming = streaming
        self._pending = False
        self._gone = False
        self._unsent = ""
        """While a model reply streams: text not yet shown (a repaint takes it at most every
        STREAM_FLUSH_S); its body is finished Markdown blocks above the live block's LiveText."""
        self._unsent_due = False
        self._live: LiveText | None = None
        """The streaming body's live block (None once the reply is finished)."""
        self._block_ends = BlockEnds()
        """Where the finished blocks of the live block's text end (scanned as it grows)."""
        self._shown = self.text
        """The text the body shows (a repaint with the same text is skipped)."""
        self.version: tuple[int | None, int] | None = None
        """(its version number, how many versions) when it has siblings; a number of None
        marks a message after which only archived versions follow."""

    @property
    def alive(self) -> bool:
        """Mounted and still in the DOM. A worker streaming into a view whose screen was
        left must not touch its (removed) children: every repaint checks this first."""
        return self.is_mounted and not self._gone and self.is_attached

    def on_unmount(self) -> None:
        self._gone = True

    @property
    def sequence(self) -> int | None:
        """The stored messageSequence (None for a reply still streaming)."""
        return _num(self.message.get("messageSequence"))

    def set_sequence(self, sequence: int) -> None:
        """Show the sequence the core stored this message under."""
        self.message["messageSequence"] = sequence
        if self.alive:
            self.query_one(".role", Static).update(self._label())

    @property
    def message_id(self) -> str | None:
        """The stored messageId (None before the core stored it)."""
        value = self.message.get("messageId")
        return value if isinstance(value, str) else None

    def set_version(self, version: tuple[int | None, int] | None) -> None:
        """Show `‹ 2/3 ›` (or nothing) in the role line."""
        self.version = version
        if self.alive:
            self.query_one(".role", Static).update(self._label())

    def role_name(self) -> str:
        """`reply #4`, `your message #3`."""
        seq = f" #{self.sequence}" if self.sequence is not None else ""
        return ("reply" if self.message.get("role") == "model" else "your message") + seq

    def mark_not_sent(self) -> None:
        """Show that this message was refused before it was stored."""
        self.message["notSent"] = True
        self.add_class("-not-sent")
        if self.alive:
            self.query_one(".role", Static).update(self._label())

    def compose(self) -> ComposeResult:
        yield Static(self._label(), classes="role")
        if self.thoughts or self.streaming:
            with Collapsible(
                title="Thoughts", collapsed=not self.streaming, classes="thoughts"
            ) as box:
                box.display = bool(self.thoughts)
                yield Static(self.thoughts, classes="thoughts-text", markup=False)
        if self.streaming and self.message.get("role") == "model":
            with StreamingBody(classes="body -streaming"):
                yield MarkdownWidget("", classes="-blocks")
                yield LiveText(classes="-live")
        else:
            yield Static(self._body(), classes="body")
        line = usage_text(self.message.get("metadata"))
        usage = Static(line, classes="usage", markup=False)
        usage.display = bool(line.plain)
        yield usage

    def _label(self) -> Text:
        role = self.message.get("role", "user")
        who = {"user": "you", "model": "model", "tool": "tool"}.get(role, role)
        seq = f" #{self.sequence}" if self.sequence is not None else ""
        label = Text(f"{who}{seq}", style="bold")
        when = self.message.get("createdAt")
        if hasattr(when, "strftime"):
            label.append(f" · {when:%Y-%m-%d %H:%M} UTC", style="dim")
        if self.message.get("isEdited"):
            label.append(" (edited)", style="dim")
        if self.version is not None:
            number, total = self.version
            shown = f"‹ {number}/{total} ›" if number else f"‹ –/{total} › versions follow"
            label.append(f"  {shown}", style="bold cyan")
        if self.message.get("notSent"):
            label.append(" · not sent (the text is back in the box)", style="bold red")
        if self.streaming:
            label.append(" · streaming…", style="dim italic")
        return label

    def _body(self) -> Any:
        if self.message.get("role") == "model" and self.text:
            return Markdown(self.text)
        return Text(self.text)

    # Streaming: chunks are batched and repainted every FLUSH_S seconds.
    def append_thought(self, chunk: str) -> None:
        """Add a thought-summary chunk to the dimmed block."""
        self.thoughts += chunk
        self._schedule()

    async def append_text(self, chunk: str) -> None:
        """Add a text chunk; the first one folds the thoughts away. The streaming body takes
        what arrived at most every STREAM_FLUSH_S (one repaint for many chunks)."""
        if not self.text and self.thoughts and self.alive:
            self.query_one(Collapsible).collapsed = True
        self.text += chunk
        if not self.alive:
            return
        if self._live is None:
            lives = self.query(".body.-streaming .-live").results(LiveText)
            self._live = next(iter(lives), None)
            if self._live is None:
                self._schedule()
                return
        self._unsent += chunk
        if not self._unsent_due:
            self._unsent_due = True
            self.set_timer(STREAM_FLUSH_S, self._write_unsent)

    async def _write_unsent(self) -> None:
        """Show what arrived since the last repaint: blocks it finished go to the Markdown
        (parsed and rendered once), the rest extends the live block."""
        self._unsent_due = False
        unsent, self._unsent = self._unsent, ""
        live = self._live
        if not unsent or live is None or not self.alive:
            return
        unsent = unsent.replace("\t", "    ")  # as LiveText keeps it: the offsets stay true
        text = live.text + unsent
        cut = self._block_ends.finished(text)
        if not cut:
            live.append(unsent)
            return
        self._block_ends.cut(cut)
        with self.app.batch_update():  # the block moves from the live text to the Markdown
            await self.query_one(".-blocks", MarkdownWidget).append(text[:cut])
            live.reset(text[cut:])

    async def end_stream(self) -> None:
        """Put the final text in one plain body (finished replies are light Statics, like
        the history): the streaming body is replaced whatever it had shown."""
        self._unsent, self._live = "", None
        if not self.alive:
            return
        for body in self.query(".body.-streaming"):
            await self.mount(Static(self._body(), classes="body"), before=body)
            await body.remove()
            self._shown = self.text

    def _schedule(self) -> None:
        if not self._pending and self.alive:
            self._pending = True
            self.set_timer(FLUSH_S, self.flush)

    def flush(self) -> None:
        """Repaint the thoughts and the text as they stand (nothing once the view is gone)."""
        self._pending = False
        if not self.alive:
            return
        if self.thoughts:
            box = self.query_one(Collapsible)
            box.display = True
            box.query_one(".thoughts-text", Static).update(self.thoughts)
        if self.text != self._shown:
            self._shown = self.text
            for body in self.query(".body").results(Static):
                body.update(self._body())

    def finish(
        self, metadata: dict[str, Any], *, error: str | None = None, sequence: int | None = None
    ) -> None:
        """End of the stream: final text, the usage line (or the error inline), the stored sequence."""
        self.streaming = False
        self.message["metadata"] = metadata
        if not self.alive:
            return
        self.flush()
        if _num(sequence) is not None:
            self.set_sequence(sequence)
        else:
            self.query_one(".role", Static).update(self._label())
        usage = self.query_one(".usage", Static)
        usage.display = True
        if error:
            usage.update(Text(f"⚠ {error}", style="bold red"))
            usage.add_class("-error")
        else:
            usage.update(usage_text(metadata))


CODE_BLOCK = re.compile(r"```[^\n]*\n(.*?)```", re.DOTALL)


class ChatLog(VerticalScroll):
    """A scrolling window of messages; posts `OlderWanted` at the top.

    With the log focused, ↑↓ select a message; t folds its thoughts, c copies its text,
    b its last code block (the screens offer the same on ctrl+o / ctrl+y for the selected
    message, or the newest reply when none is selected); `[` `]` switch the selected
    message's version and d deletes it (both posted to the screen, which asks the core).
    """

    BINDINGS = [
        Binding("up", "select(-1)", "Prev message", show=False),
        Binding("down", "select(1)", "Next message", show=False),
        Binding("t", "toggle_thoughts", "Thoughts"),
        Binding("c", "copy", "Copy"),
        Binding("b", "copy_code", "Copy code"),
        Binding("left_square_bracket", "version(-1)", "Prev version", key_display="["),
        Binding("right_square_bracket", "version(1)", "Next version", key_display="]"),
        Binding("d,delete", "delete", "Delete message", key_display="d"),
    ]

    @dataclass
    class OlderWanted(Message):
        """The reader reached the top and older messages exist."""

        log: ChatLog
        before_sequence: int

    @dataclass
    class WindowShown(Message):
        """The first window of messages is mounted and painted."""

    @dataclass
    class VersionWanted(Message):
        """Switch `view`'s message to its previous (-1) or next (1) sibling version."""

        log: ChatLog
        view: MessageView
        step: int

    @dataclass
    class DeleteWanted(Message):
        """Delete `view`'s message (the screen asks first)."""

        log: ChatLog
        view: MessageView

    def __init__(self, *, id: str | None = None, message_keys: bool = False) -> None:
        super().__init__(id=id, can_focus=True)
        self.has_older = False
        self.loading_older = False
        self.filling = False
        self.message_keys = message_keys
        """Whether `[` `]` and d are offered (the screen handles VersionWanted/DeleteWanted)."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The version and delete keys exist only where the screen acts on them."""
        if action in ("version", "delete") and not self.message_keys:
            return False
        return True

    def on_mount(self) -> None:
        self.anchor()

    @property
    def selected(self) -> MessageView | None:
        """The message selected with the keyboard, if any."""
        return next(iter(self.query_children(".-selected").results(MessageView)), None)

    def target(self) -> MessageView | None:
        """The selected message, or else the newest reply."""
        replies = [v for v in self.views if v.message.get("role") == "model"]
        return self.selected or (replies[-1] if replies else None)

    def action_select(self, step: int) -> None:
        """Select the previous/next message (the newest first when none is selected)."""
        views = self.views
        if not views:
            return
        current = self.selected
        index = len(views) - 1 if current is None else views.index(current) + step
        index = max(0, min(index, len(views) - 1))
        if current is not None:
            current.remove_class("-selected")
        views[index].add_class("-selected")
        self.scroll_to_widget(views[index], animate=False)

    def versioned(self) -> MessageView | None:
        """The selected message, or else the newest one with sibling versions."""
        marked = [v for v in self.views if v.version is not None]
        return self.selected or (marked[-1] if marked else None)

    def action_version(self, step: int) -> None:
        """Ask the screen for the selected message's previous/next version."""
        view = self.versioned()
        if view is None or view.version is None:
            self.notify(
                "No message here has other versions (edit or regenerate one to make some).",
                severity="warning",
                timeout=4,
            )
            return
        self.post_message(self.VersionWanted(self, view, step))

    def action_delete(self) -> None:
        """Ask the screen to delete the selected message (↑↓ select one first)."""
        view = self.selected
        if view is None:
            self.notify("Select a message first (↑↓ in the log).", severity="warning", timeout=4)
            return
        self.post_message(self.DeleteWanted(self, view))

    def following(self, view: MessageView) -> MessageView | None:
        """The mounted message right after `view`, if any."""
        views = self.views
        index = views.index(view) if view in views else -1
        return views[index + 1] if 0 <= index < len(views) - 1 else None

    async def wait_filled(self, timeout: float = 5.0) -> None:
        """Wait until the whole window is mounted (show_window mounts it in two steps)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while self.filling and loop.time() < end:
            await asyncio.sleep(0.01)

    def select_sequence(self, sequence: int) -> MessageView | None:
        """Select (and scroll to) the mounted message with this sequence, if there is one."""
        views = self.views
        found = next((v for v in views if v.sequence == sequence), None)
        if found is None:
            return None
        for view in views:
            view.remove_class("-selected")
        found.add_class("-selected")
        self.scroll_to_widget(found, animate=False)
        return found

    def action_toggle_thoughts(self) -> None:
        """Fold or unfold the thoughts of the selected message (or the newest reply)."""
        view = self.target()
        boxes = view.query(Collapsible) if view else None
        if not boxes or not view or not view.thoughts:
            self.notify("No thoughts on this message.", severity="warning", timeout=3)
            return
        box = boxes.first(Collapsible)
        box.collapsed = not box.collapsed

    def action_copy(self) -> None:
        """Copy the selected message's text (or the newest reply's) to the clipboard."""
        view = self.target()
        if view is None or not view.text:
            self.notify("Nothing to copy yet.", severity="warning", timeout=3)
            return
        self.app.copy_to_clipboard(view.text)
        self.notify(f"Copied {view.role_name()} ({len(view.text)} characters).", timeout=3)

    def action_copy_code(self) -> None:
        """Copy the last code block of the selected message (or the newest reply)."""
        view = self.target()
        blocks = CODE_BLOCK.findall(view.text) if view else []
        if not blocks:
            self.notify("No code block in this message.", severity="warning", timeout=3)
            return
        self.app.copy_to_clipboard(blocks[-1])
        self.notify(f"Copied the code block ({len(blocks[-1])} characters).", timeout=3)

    @property
    def views(self) -> list[MessageView]:
        """The mounted message views, oldest first."""
        return list(self.query_children(MessageView))

    async def show_window(self, messages: list[dict[str, Any]], *, page: int = WINDOW) -> None:
        """Replace the log with `messages` (the newest window, ascending).

        The newest FIRST_PAINT messages are mounted and painted first (a screenful or two);
        the rest of the window is mounted above them right after, so opening costs the
        same whatever the window size.
        """
        self.app.workers.cancel_group(self, "fill")
        await self.remove_children()
        self.has_older = (
            bool(messages)
            and len(messages) >= page
            and (messages[0].get("messageSequence") or 0) > 1
        )
        rest, newest = messages[:-FIRST_PAINT], messages[-FIRST_PAINT:]
        self.filling = bool(rest)
        if newest:
            await self.mount_all(MessageView(m) for m in newest)
        else:
            await self.mount(Static("No messages yet.", classes="empty"))
        self.anchor()
        self.call_after_refresh(self._painted, rest)

    def _painted(self, rest: list[dict[str, Any]]) -> None:
        self.post_message(self.WindowShown())
        if rest:
            self.run_worker(self._fill(rest), group="fill", exclusive=True)

    async def _fill(self, rest: list[dict[str, Any]]) -> None:
        views = self.views
        await self.mount_all((MessageView(m) for m in rest), before=views[0] if views else None)
        self.filling = False

    async def prepend(self, messages: list[dict[str, Any]], *, page: int = WINDOW) -> None:
        """Mount an older page above the window, keeping the reader's place."""
        self.loading_older = False
        self.has_older = (
            len(messages) >= page and (messages[0].get("messageSequence") or 0) > 1
            if messages
            else False
        )
        if not messages:
            return
        before = self.virtual_size.height
        first = self.views[0] if self.views else None
        await self.mount_all((MessageView(m) for m in messages), before=first)
        self.call_after_refresh(self._keep_place, before)

    def _keep_place(self, before: int) -> None:
        self.scroll_to(y=self.virtual_size.height - before, animate=False, immediate=True)

    async def add(
        self, message: dict[str, Any], *, streaming: bool = False, follow: bool = False
    ) -> MessageView:
        """Append a message (or a reply about to stream); `follow` jumps to the bottom."""
        await self.query_children(".empty").remove()
        view = MessageView(message, streaming=streaming)
        await self.mount(view)
        if follow:
            self.anchor()
        return view

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if new_value <= 0 < old_value:
            self.want_older()

    def want_older(self) -> None:
        """Ask for the page before the oldest mounted message, once at a time."""
        views = self.views
        if (
            not self.has_older
            or self.loading_older
            or self.filling
            or not views
            or views[0].sequence is None
        ):
            return
        self.loading_older = True
        self.post_message(self.OlderWanted(self, views[0].sequence))
