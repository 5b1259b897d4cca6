"""One user's reply accountings, applied in batches: one transaction for all that wait.

Each stored reply defers its accounting (reply_accounting). One user's accountings take turns
on a per-process lock (user_locks: they write the same usage documents). Applied one per
transaction they fell behind a burst from one account: 32 clients of one user left 388 of 456
replies unaccounted at the end of a 10-second load, and after 10,000 such requests
`apsara serve` took over 20 s to stop (it waits for them). So the task that gets the lock
applies every record of that user queued by then, BATCH per transaction, and the others find
theirs applied.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from apsara_core.services import reply_accounting
from apsara_core.services.limits import LimitsService
from apsara_core.services.user_locks import UserLocks

BATCH = 64
"""Records per transaction (about six writes each)."""

Waiting = list[tuple[dict[str, Any], "asyncio.Future[None]"]]


class AccountingBatches:
    """Per process: the pending accounting records of each user, applied in turns."""

    def __init__(self, db: AsyncDatabase, limits: LimitsService) -> None:
        self._db, self._limits = db, limits
        self._locks = UserLocks()
        self._waiting: dict[str, Waiting] = {}

    async def apply(self, record: dict[str, Any]) -> None:
        """Apply `record` (a reply's pending accounting) with the other records of its user
        that wait; return once it is applied.

        Raises:
            Exception: what applying its batch raised (the records stay for the sweep).
        """
        user = record["userId"]
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (record, done)
        self._waiting.setdefault(user, []).append(entry)
        taken: Waiting = []
        try:
            async with self._locks.of(user):
                taken = self._waiting.pop(user, [])
                for start in range(0, len(taken), BATCH):
                    await self._apply(taken[start : start + BATCH])
        except BaseException as exc:  # cancelled: waiting for the lock, or in a batch
            queue = [e for e in self._waiting.get(user, []) if e is not entry]
            if queue:
                self._waiting[user] = queue
            else:
                self._waiting.pop(user, None)
            _fail([e for e in taken if e is not entry], exc)
            raise
        await done

    async def _apply(self, chunk: Waiting) -> None:
        """Apply one batch and settle its futures (a failure is set on each of them)."""
        try:
            await reply_accounting.apply_many(self._db, self._limits, [r for r, _ in chunk])
        except Exception as exc:
            _fail(chunk, exc)
            return
        for _, future in chunk:
            if not future.done():
                future.set_result(None)


def _fail(entries: Waiting, exc: BaseException) -> None:
    """Set `exc` on the futures not settled yet (a cancellation as an error of its own)."""
    error = exc if isinstance(exc, Exception) else RuntimeError("the accounting was interrupted")
    for _, future in entries:
        if not future.done():
            future.set_exception(error)
            future.exception()  # retrieved: a waiter that was cancelled never awaits it
