"""Quota reservation cost vs a bare `find_one_and_update` with `$inc`, same server, same run.

A reservation is `LimitsService.reserve` with its bookkeeping: the plan lookup (cached), the
atomic conditional increment of the (user, model, day) counter (refund and commit are made
idempotent by a closure record written when the reservation closes, outside this timing).
A group reservation is the same for a model of a plan's model group (its counter is the
group's, shared by the group's models).
500 other users' counters are stored first so the collection is not trivially small. Rounds interleave the measured operations to cancel drift.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from pymongo import ReturnDocument

from tests.benchmarks.report import Result

ROUNDS, PER_ROUND = 10, 40


async def _time(samples: list[float], op: Callable[[], Awaitable[object]]) -> None:
    for _ in range(PER_ROUND):
        t0 = time.perf_counter()
        await op()
        samples.append(time.perf_counter() - t0)


async def _measure(uri: str, data_dir: Path) -> dict[str, list[float]]:
    from apsara_core.config import Settings
    from apsara_core.core import open_core
    from apsara_core.models import Principal
    from apsara_core.repos.users import new_id

    core = await open_core(
        Settings(_env_file=None, mongodb_uri=uri, jwt_secret="b" * 40, data_dir=data_dir)
    )
    db, limits = core.db, core.limits
    await core.plans.set_limit(
        actor=Principal.operator(), plan="premium", model="gemini-2.5-flash", daily=10**9
    )
    await core.plans.set_group(
        actor=Principal.operator(),
        plan="premium",
        group="bench",
        models=["gemini-2.5-pro"],
        daily=10**9,
    )
    await db.usage_daily.insert_many(
        [
            {
                "_id": f"{new_id()}|2020-01-01|m",
                "userId": new_id(),
                "date": "2020-01-01",
                "model": "m",
                "count": 1,
            }
            for _ in range(500)
        ]
    )
    await db.bench_bare.insert_one({"_id": "k", "n": 0})
    actor = Principal(user_id=new_id(), role="user", plan="premium")
    samples: dict[str, list[float]] = {
        "fou": [],
        "update_one": [],
        "reserve": [],
        "group": [],
        "full": [],
    }

    async def reserve_batch(model: str, into: str) -> None:
        """PER_ROUND timed reservations, then their commits untimed (as in real use, each
        is closed soon; committing in between would time the transaction's aftermath)."""
        batch = []
        for _ in range(PER_ROUND):
            t0 = time.perf_counter()
            batch.append(await limits.reserve(actor=actor, model=model))
            samples[into].append(time.perf_counter() - t0)
        for r in batch:
            await limits.commit(r, prompt_tokens=10, output_tokens=20)

    async def full() -> None:
        r = await limits.reserve(actor=actor, model="gemini-2.5-flash")
        await limits.commit(r, prompt_tokens=10, output_tokens=20)

    try:
        await full()  # warm the plan cache and the day's counters
        await limits.commit(
            await limits.reserve(actor=actor, model="gemini-2.5-pro"),
            prompt_tokens=1,
            output_tokens=1,
        )
        for _ in range(ROUNDS):
            await _time(
                samples["fou"],
                lambda: db.bench_bare.find_one_and_update(
                    {"_id": "k"}, {"$inc": {"n": 1}}, return_document=ReturnDocument.AFTER
                ),
            )
            await _time(
                samples["update_one"],
                lambda: db.bench_bare.update_one({"_id": "k"}, {"$inc": {"n": 1}}),
            )
            await reserve_batch("gemini-2.5-flash", "reserve")
            await reserve_batch("gemini-2.5-pro", "group")
            await _time(samples["full"], full)
    finally:
        await core.client.drop_database(db.name)
        await core.close()
    return samples


def run() -> list[Result]:
    """p50 of each operation; the goal of a reservation, per model or per model group, is <= 1.3x
    the bare find_one_and_update."""
    from apsara_core.db.embedded import free_port, spawn, wait_ready

    with tempfile.TemporaryDirectory() as tmp:
        log, port = Path(tmp) / "server.log", free_port()
        proc = spawn(":memory:", port, log, detach=False)
        try:
            wait_ready(proc, port, log)
            samples = asyncio.run(
                _measure(f"mongodb://127.0.0.1:{port}/bench_limits", Path(tmp) / "data")
            )
        finally:
            proc.terminate()
            proc.wait(10)
    p50 = {k: statistics.median(v) * 1000 for k, v in samples.items()}
    ratio = {k: v / p50["fou"] for k, v in p50.items()}
    return [
        Result("limits: bare find_one_and_update $inc (1-doc collection)", p50["fou"], "ms"),
        Result(
            f"limits: bare update_one $inc by _id ({ratio['update_one']:.2f}x)",
            p50["update_one"],
            "ms",
        ),
        Result(
            "limits: reserve (conditional inc; plan cached)",
            p50["reserve"],
            "ms",
            ratio=ratio["reserve"],
            goal=1.3,
        ),
        Result(
            "limits: group reservation (a model group's shared counter; plan cached)",
            p50["group"],
            "ms",
            ratio=ratio["group"],
            goal=1.3,
        ),
        Result(
            f"limits: reserve + commit, one transaction ({ratio['full']:.2f}x)", p50["full"], "ms"
        ),
    ]
