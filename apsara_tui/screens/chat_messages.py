"""Keys on the chat's messages: sibling versions (`[` `]`, alt+←/→), delete one (d), search
(ctrl+f). Each is one call of the core's `messages` service; the log is then refreshed.

A message with siblings shows `‹ 2/3 ›` in its role line: switching moves the whole branch
that follows it, and the branch that was current stays reachable as a sibling.
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.binding import Binding

from apsara_tui.screens.chat_tools import ConversationTools
from apsara_tui.widgets.chat_log import WINDOW, ChatLog, MessageView
from apsara_tui.widgets.confirm import ConfirmModal
from apsara_tui.widgets.search_box import SearchModal

MESSAGE_BINDINGS = [
    Binding("ctrl+f", "search", "Search"),
    Binding("alt+left", "version(-1)", "Prev version", show=False),
    Binding("alt+right", "version(1)", "Next version", show=False),
]
JUMP_MAX = 1000
"""A search result at most this many messages back is shown with everything after it."""
PROMPT_ROLES = ("user", "tool")


class MessageTools(ConversationTools):
    """A chat screen whose log offers versions, delete and search on its messages."""

    def __init__(self) -> None:
        super().__init__()
        self.forks: list[dict[str, Any]] = []
        """The conversation's forks as the core last listed them."""

    async def load_window(self, log: ChatLog) -> None:
        """The newest window; the version marks follow in a worker of their own (the quota
        and the first paint never wait for them)."""
        await super().load_window(log)
        self.run_worker(self.mark_versions(log), group="marks", exclusive=True)

    async def reload_marked(self, log: ChatLog) -> None:
        """The newest window with its version marks, both in place before it returns."""
        self.workers.cancel_group(self, "marks")
        await super().load_window(log)
        await self.mark_versions(log)

    async def load_older(self, event: ChatLog.OlderWanted) -> None:
        """An older page, with the version marks."""
        await super().load_older(event)
        await self.mark_versions(event.log, fetch=False)

    async def mark_versions(self, log: ChatLog, *, fetch: bool = True) -> None:
        """Show `‹ n/m ›` on each mounted message that starts a fork (the core's tree)."""
        if fetch:
            found = await self.call_as(
                lambda me: self.core.messages.versions(
                    actor=me, conversation_id=self.conversation_id
                ),
                for_user=True,
            )
            self.forks = found or []
        await log.wait_filled()
        marks: dict[str, tuple[int | None, int]] = {}
        for fork in self.forks:
            key = fork["messageId"] or fork["parentId"]
            if key:
                marks[key] = (fork["current"], len(fork["versions"]))
        for view in log.views:
            mark = marks.get(view.message_id or "")
            if mark != view.version:
                view.set_version(mark)

    def fork_at(self, view: MessageView) -> dict[str, Any] | None:
        """The fork `view` marks (it starts it, or nothing live follows its parent)."""
        for fork in self.forks:
            if view.message_id and view.message_id in (fork["messageId"], fork["parentId"]):
                if fork["messageId"] in (view.message_id, None):
                    return fork
        return None

    def _busy(self) -> bool:
        if self.replying:
            self.notify(
                "Wait for the reply to finish (or stop it with ctrl+c) first.",
                severity="warning",
            )
        return self.replying

    # Versions
    def action_version(self, step: int) -> None:
        """The selected message's previous/next version (alt+←/→ from anywhere)."""
        self.query_one(ChatLog).action_version(step)

    @on(ChatLog.VersionWanted)
    def _version_wanted(self, event: ChatLog.VersionWanted) -> None:
        fork = self.fork_at(event.view)
        if fork is None or self._busy():
            return
        total = len(fork["versions"])
        target = (fork["current"] or (0 if event.step > 0 else total + 1)) + event.step
        if not 1 <= target <= total:
            edge = "first" if event.step < 0 else "last"
            self.notify(f"This is the {edge} version ({fork['current']}/{total}).", timeout=3)
            return
        self.run_worker(self.switch(event.log, fork, target), group="versions", exclusive=True)

    async def switch(self, log: ChatLog, fork: dict[str, Any], target: int) -> None:
        """Make version `target` current in the core, reload the log, select the fork."""
        anchor = fork["messageId"] or fork["parentId"]
        done = await self.call_as(
            lambda me: self.core.messages.switch_version(
                actor=me, conversation_id=self.conversation_id, message_id=anchor, to_version=target
            ),
            for_user=True,
        )
        if done is None or not self.is_attached:
            return
        await self.reload_marked(log)
        version = next(v for v in fork["versions"] if v["version"] == target)
        log.select_sequence(version["messageSequence"])
        self.notify(
            f"Version {done['version']}/{done['of']}: {done['restored']} message"
            f"{'s' if done['restored'] != 1 else ''} from #{version['messageSequence']} on. "
            "The other versions are kept ([ and ] switch).",
            title="Version switched",
        )

    # Delete
    @on(ChatLog.DeleteWanted)
    def _delete_wanted(self, event: ChatLog.DeleteWanted) -> None:
        view = event.view
        if self._busy():
            return
        if view.message_id is None or view.sequence is None:
            self.notify("This message was not stored: nothing to delete.", severity="warning")
            return
        reply = event.log.following(view)
        both = (
            view.message.get("role") in PROMPT_ROLES
            and reply is not None
            and reply.message.get("role") == "model"
        )
        if both and reply is not None:
            title = f"Delete your message #{view.sequence} and its reply #{reply.sequence}?"
            body = (
                f"The reply #{reply.sequence} answers #{view.sequence}: alone it would have no "
                "question, so both are deleted for good (not archived). Quota already used "
                "stays used."
            )
            confirm = "Delete both"
        else:
            title = f"Delete {view.role_name()}?"
            body = "It is deleted for good (not archived). Quota already used stays used."
            confirm = "Delete"
        self.app.push_screen(
            ConfirmModal(title, body, confirm=confirm),
            lambda yes: (
                self.run_worker(self.delete(event.log, view.message_id or "", both), group="delete")
                if yes
                else None
            ),
        )

    async def delete(self, log: ChatLog, message_id: str, with_reply: bool) -> None:
        """Delete in the core, then take the deleted messages out of the log."""
        done = await self.call_as(
            lambda me: self.core.messages.delete_message(
                actor=me,
                conversation_id=self.conversation_id,
                message_id=message_id,
                with_reply=with_reply,
            ),
            for_user=True,
        )
        if done is None or not self.is_attached:
            return
        gone = {d["messageId"] for d in done["deleted"]}
        for view in log.views:
            if view.message_id in gone:
                await view.remove()
        await self.mark_versions(log)
        numbers = " and ".join(f"#{d['messageSequence']}" for d in done["deleted"])
        self.notify(f"Deleted {numbers}; {done['messages']} messages left.", title="Deleted")

    # Search
    def action_search(self) -> None:
        """Search the conversation (the core's search); Enter on a result jumps to it."""
        self.app.push_screen(
            SearchModal(self._lookup),
            lambda sequence: (
                self.run_worker(self.jump(sequence), group="jump", exclusive=True)
                if sequence is not None
                else None
            ),
        )

    async def _lookup(self, text: str, page: int) -> dict[str, Any] | None:
        return await self.call_as(
            lambda me: self.core.messages.search_messages(
                actor=me, conversation_id=self.conversation_id, query=text, page=page, limit=10
            ),
            for_user=True,
        )

    async def jump(self, sequence: int) -> None:
        """Select message #sequence, loading everything from it to the newest when needed."""
        log = self.query_one(ChatLog)
        await log.wait_filled()
        if log.select_sequence(sequence) is None:
            newest = max((v.sequence or 0 for v in log.views), default=sequence)
            count = newest - sequence + 1 + 5
            if count > JUMP_MAX:
                self.notify(
                    f"#{sequence} is more than {JUMP_MAX} messages back: scroll up to it, or "
                    f"see it with `apsara conv messages --before {sequence + 1}`.",
                    severity="warning",
                )
                return
            found = await self.call_as(
                lambda me: self.core.conversations.messages(
                    actor=me, conversation_id=self.conversation_id, limit=max(count, WINDOW)
                ),
                for_user=True,
            )
            if found is None:
                return
            await log.show_window(found, page=max(count, WINDOW))
            await self.mark_versions(log, fetch=False)
            await log.wait_filled()
            if log.select_sequence(sequence) is None:
                self.notify(f"Message #{sequence} is gone.", severity="warning")
                return
        log.focus()
