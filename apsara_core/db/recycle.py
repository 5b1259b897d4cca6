"""Recycling the embedded server while it is idle: this bounds the memory its transactions keep.

The embedded server never frees what a multi-document transaction leaves in its heap: one
WiredTiger session and seven cursor objects per transaction, about 3.7 KiB (measured with the
bare driver: 48,000 transactions grew it by 190 MiB at a 64M cache, where the same writes
without a transaction stayed at 116 MiB; tests/stress/txn_memory.py). A sent message takes
three transactions, so the server grows by about 1.1 GiB per 100,000 messages until restarted.

Each long-running front end's upkeep calls `Recycler.check` once a round (every minute). When
the server's resident memory is over APSARA_EMBEDDED_RECYCLE_RSS and it has taken no write
(insert, update or delete, from any process) for APSARA_EMBEDDED_RECYCLE_IDLE_S, the server is
restarted on its port (`EmbeddedServer.restart`, about a second; the data is on disk). Every
client reconnects by itself: a read in that second is retried by the driver and a transaction
by `run_in_transaction`; a single write arriving in it fails with "database unavailable". Only
a server Apsara started is recycled, never one reached through MONGODB_URI.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from apsara_core.config import Settings
from apsara_core.db.embedded import EmbeddedServer

log = logging.getLogger(__name__)

WRITES = ("insert", "update", "delete")
UNITS = {"M": 2**20, "G": 2**30}


def size_bytes(text: str) -> int:
    """Bytes of a size setting such as 512M or 2G (the settings' pattern checked its form)."""
    return int(text[:-1]) * UNITS[text[-1]]


def resident_bytes(pid: int) -> int | None:
    """The resident memory of process `pid`, or None when it cannot be read (not Linux, gone)."""
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


async def _reconnect(db: AsyncDatabase, tries: int = 5) -> None:
    """Let this process's client find the restarted server: a ping over a pooled connection to
    the old one fails and clears the pool, so the next request does not meet a dead socket."""
    for _ in range(tries):
        try:
            await db.client.admin.command("ping")
            return
        except PyMongoError:
            await asyncio.sleep(0.2)


@dataclass
class Recycler:
    """Restarts the embedded server once it is over `max_rss` bytes and write-idle for
    `idle_s` seconds (watched across `check` calls)."""

    server: EmbeddedServer
    max_rss: int
    idle_s: float
    clock: Callable[[], float] = time.monotonic
    _writes: int | None = field(default=None, repr=False)
    _since: float = field(default=0.0, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Recycler | None:
        """The recycler the settings ask for; None when APSARA_EMBEDDED_RECYCLE_RSS is off."""
        if settings.embedded_recycle_rss == "off":
            return None
        return cls(
            EmbeddedServer.from_settings(settings),
            size_bytes(settings.embedded_recycle_rss),
            settings.embedded_recycle_idle_s,
        )

    async def check(self, db: AsyncDatabase) -> bool:
        """One look at the server; restart it when it is due. True when this call restarted it."""
        state = await asyncio.to_thread(self.server.status)
        if state is None:
            return False
        status = await db.client.admin.command("serverStatus")
        if status.get("pid") != state.pid:  # not the server this data dir records
            return False
        counters = status.get("opcounters", {})
        writes = sum(int(counters.get(name, 0)) for name in WRITES)
        now = self.clock()
        if writes != self._writes:
            self._writes, self._since = writes, now
            return False
        if now - self._since < self.idle_s:
            return False
        rss = resident_bytes(state.pid)
        if rss is None or rss <= self.max_rss:
            return False
        restarted = await asyncio.to_thread(self.server.restart, state.pid)
        self._writes = None  # a new server counts from zero
        if restarted is not None:
            await _reconnect(db)
            log.warning(
                "restarted the idle embedded server to free its memory (%d MiB over %d MiB; "
                "APSARA_EMBEDDED_RECYCLE_RSS)",
                rss // 2**20,
                self.max_rss // 2**20,
            )
        return restarted is not None
