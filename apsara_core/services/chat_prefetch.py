"""Reading a conversation's history window alongside the conversation itself.

A send needs the conversation (its owner, its last sequence) and then the newest messages
below that sequence: two reads, one after the other, before the model call can start. This
process remembers the last sequence it stored per conversation; with that hint the window is
read at once, alongside the conversation. When the conversation arrives the read is checked
against it and kept only when it holds the newest `count` messages up to the conversation's
last sequence (the message at that sequence included: appends commit in sequence order, so
nothing before it is missing). Otherwise the window is read again, the usual way. A read ahead
for a conversation the caller may not see is dropped unread.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from apsara_core.repos import messages as msg_repo

HINTS = 10_000
"""Conversations remembered (the least recently used are forgotten)."""
SLACK = 16
"""Messages another process may have appended since the hint for the read to still serve."""


class WindowPrefetch:
    """Per process: the last stored sequence of recent conversations, and window reads from it."""

    def __init__(self, db: AsyncDatabase, count: int) -> None:
        self._db, self._count = db, count
        self._hints: OrderedDict[str, int] = OrderedDict()

    def remember(self, conversation_id: str, sequence: Any) -> None:
        """Note `sequence` as the conversation's last one (after a message was stored)."""
        if not isinstance(sequence, int):
            return
        self._hints[conversation_id] = sequence
        self._hints.move_to_end(conversation_id)
        if len(self._hints) > HINTS:
            self._hints.popitem(last=False)

    def start(self, conversation_id: Any) -> asyncio.Task[tuple[int, list[dict[str, Any]]]] | None:
        """Read the window from the hint's range now; None without a hint."""
        hint = self._hints.get(conversation_id) if isinstance(conversation_id, str) else None
        if hint is None:
            return None
        low, high = max(hint + 1 - self._count, 0), hint + 1 + SLACK
        return asyncio.ensure_future(self._read(conversation_id, low, high))

    async def _read(self, conversation_id: str, low: int, high: int) -> tuple[int, list[Any]]:
        return low, await msg_repo.in_range(self._db, conversation_id, low, high)

    async def window(
        self, task: asyncio.Task[tuple[int, list[dict[str, Any]]]], conv: dict[str, Any]
    ) -> list[dict[str, Any]] | None:
        """The newest `count` messages up to `conv`'s last sequence, ascending, from `task`;
        None when the read does not cover them (then read them the usual way)."""
        low, found = await task
        last = conv["stats"]["messageSequence"]
        if last == 0:
            return []
        below = sorted(
            (m for m in found if m["messageSequence"] <= last), key=lambda m: m["messageSequence"]
        )
        if not below or below[-1]["messageSequence"] != last:
            return None  # the newest is missing: appended after the read, or archived
        if len(below) < self._count and low > 0:
            return None  # gaps (archived messages): the usual read widens its range
        return below[-self._count :]

    @staticmethod
    async def drop(task: asyncio.Task[Any] | None) -> None:
        """Cancel an unused read and wait for it."""
        if task is not None:
            task.cancel()
            await asyncio.wait([task])
            if not task.cancelled():
                task.exception()  # retrieved: a failed read ahead is not an error
