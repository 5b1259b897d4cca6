"""Operator views on a large database vs an empty one, same server, same run (issue 16 item 2).

Both databases get the same few real rows (one user with one conversation, one admin action,
one mail; the searches look for them, as an operator looks for one account); the large one is
filled by `core.seed` first (APSARA_BENCH_SCALE_USERS users, default 1,000, in the issue's shape:
13,000 documents, under a minute on a loaded 2-core machine; the goal is stated at 100,000).
Each view is timed as the median of RUNS calls, interleaved between the databases. The goal
(<= 1.5x) is scored against a third database seeded with PAGE_USERS users, enough to fill each
view's first page: large/page tells whether a view grows with the collection. Against the
empty database a list compares a page of 20 or 50 rows with one of one or two, so large/empty
(printed beside it) mixes that growth with the cost of the page's own rows.
The server stores on disk, as the app's default does: in memory (`:memory:`) it holds
everything in its 1 GB cache, which 100,000 users overflow (WT_CACHE_FULL).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from tests.benchmarks.report import Result

RUNS = 7
USERS = int(os.environ.get("APSARA_BENCH_SCALE_USERS", "1000"))
PAGE_USERS = 300  # 600 conversations, 60 premium users: every page the views read is full


def _size(users: int) -> Any:
    """The issue's shape: 2 conversations per user, 5 messages each (100,000 users: 200,000
    conversations, 1,000,000 messages)."""
    from apsara_core.services.seed import SeedSize

    return SeedSize(users=users, conversations_per_user=2, messages_per_conversation=5)


def _views(core: Any, me: Any) -> dict[str, Callable[[], Awaitable[object]]]:
    return {
        "stats db": lambda: core.stats.database(actor=me, days=30),
        "db info": lambda: core.dbinfo.info(actor=me),
        "user list": lambda: core.users.list(actor=me),
        "user list --plan premium page 3": lambda: core.users.list(
            actor=me, plan="premium", page=3
        ),
        "conv list --all": lambda: core.conversations.list(actor=me, everyone=True),
        "conv browse (everyone's, TUI)": lambda: core.conversations.browse(actor=me),
        "user search (name)": lambda: core.users.list(actor=me, text="real pers"),
        "user search (email)": lambda: core.users.list(actor=me, text="real@exa"),
        "conv title search (everyone's)": lambda: core.conversations.browse(
            actor=me, search="quarterly budget"
        ),
        "mail outbox": lambda: core.mail.outbox(actor=me),
        "audit log": lambda: core.audit.list(actor=me),
    }


async def _open(uri: str, data_dir: Path, *, seed: int) -> Any:
    from apsara_core.config import Settings
    from apsara_core.core import open_core
    from apsara_core.models import Principal

    core = await open_core(
        Settings(_env_file=None, mongodb_uri=uri, jwt_secret="b" * 40, data_dir=data_dir)
    )
    me = Principal.operator()
    if seed:
        await core.seed.seed(actor=me, size=_size(seed), progress=None)
    real = await core.users.create(actor=me, email="real@example.com", full_name="Real Person")
    await core.conversations.create(actor=Principal.of_user(real), title="Quarterly budget review")
    await core.mail.send(to="real@example.com", subject="hi", body="hello")
    return core


async def _measure(base: str, data_dir: Path) -> tuple[dict[str, tuple[float, ...]], float]:
    """Per view, the medians (empty, page, large), and the large seed's seconds."""
    t0 = time.perf_counter()
    large = await _open(f"{base}/bench_scale_large", data_dir, seed=USERS)
    seed_s = time.perf_counter() - t0
    empty = await _open(f"{base}/bench_scale_empty", data_dir, seed=0)
    page = await _open(f"{base}/bench_scale_page", data_dir, seed=PAGE_USERS)
    from apsara_core.models import Principal

    me = Principal.operator()
    cores = {"empty": empty, "page": page, "large": large}
    views = {which: _views(core, me) for which, core in cores.items()}
    samples: dict[str, dict[str, list[float]]] = {which: {} for which in cores}
    try:
        for _ in range(RUNS):
            for which in cores:
                for name, call in views[which].items():
                    started = time.perf_counter()
                    await call()
                    samples[which].setdefault(name, []).append(time.perf_counter() - started)
    finally:  # the server and its files go with the run: no drop (minutes at 100,000 users)
        for core in cores.values():
            await core.close()
    med = {
        name: tuple(statistics.median(samples[which][name]) for which in cores)
        for name in samples["empty"]
    }
    return med, seed_s


def run() -> list[Result]:
    """Each view's time on the large database, with its ratios to the page-full and empty ones."""
    from apsara_core.db.embedded import free_port, spawn, wait_ready

    with tempfile.TemporaryDirectory() as tmp:
        log, port = Path(tmp) / "server.log", free_port()
        proc = spawn(str(Path(tmp) / "db"), port, log, detach=False)  # on disk, as by default
        try:
            wait_ready(proc, port, log)
            med, seed_s = asyncio.run(_measure(f"mongodb://127.0.0.1:{port}", Path(tmp) / "d"))
        finally:
            proc.kill()  # its files are deleted with the run: nothing to shut down cleanly
            proc.wait(10)
    docs = _size(USERS).documents
    out = [Result(f"scale: seed {USERS} users ({docs} documents), docs/s", docs / seed_s, "/s")]
    for name, (empty, page, large) in med.items():
        out.append(
            Result(
                f"scale: {name} at {USERS} users (empty {empty * 1000:.1f} ms: "
                f"{large / empty:.2f}x; ratio to {PAGE_USERS} users {page * 1000:.1f} ms)",
                large * 1000,
                "ms",
                ratio=large / page,
                goal=1.5,
            )
        )
    return out
