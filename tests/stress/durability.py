"""What the embedded server's acknowledged writes survive, and what `--sync-on-commit` costs.

    .venv/bin/python -m tests.stress.durability [--runs 100] [--writes 200] [--repeat 3]

Every server here keeps its data on disk in a temporary directory, as Apsara's own does.

1. Cost: two servers at once, one started plainly and one with `--sync-on-commit`, each with
   a Core whose Gemini is the fake in a process of its own (as `bench_chat` does). Each
   operation is timed alternately on the two (p50, ms): a bare insert with `w:1, j:false`
   and with Apsara's `w:majority, j:true`; a quota reservation (one conditional update);
   a reservation and its commit (plus a transaction); a send (`core.chat.generate`: the user
   message, the reply and the quota bookkeeping, in transactions).
2. SIGKILL: `--writes` acknowledged writes back to back, the server killed right after the
   last acknowledgement, restarted on the same data; how many acknowledged writes are there.
   For each setting: inserts with `w:1, j:false`, inserts with Apsara's client, and
   transactions (an insert and an update through `writes.apply`, as a send stores).

A SIGKILL tests a crash of the server process only: what the operating system had been
handed survives it. A power loss keeps only what was fsynced; that cannot be tested here.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from pymongo import AsyncMongoClient

from apsara_core.core import Core, open_core
from apsara_core.db.client import Target, connect
from apsara_core.db.embedded import free_port, spawn, wait_ready
from apsara_core.models import Principal
from apsara_core.repos import writes
from apsara_core.repos.writes import Insert, Update
from tests.benchmarks.bench_chat import _settings as chat_settings
from tests.factories import create_user, principal_of
from tests.fakes.gemini_process import fake_gemini_process

FLASH = "gemini-2.5-flash"
SETTINGS = {"default": False, "--sync-on-commit": True}
Op = Callable[[], Awaitable[Any]]


@contextmanager
def disk_server(storage: Path, *, sync_on_commit: bool) -> Iterator[tuple[str, Any]]:
    """An embedded server on `storage` (killed afterwards); yields its URI and process."""
    port, log = free_port(), storage.parent / f"{storage.name}.log"
    proc = spawn(str(storage), port, log, detach=False, sync_on_commit=sync_on_commit)
    try:
        wait_ready(proc, port, log)
        yield f"mongodb://127.0.0.1:{port}/durability", proc
    finally:
        proc.kill()
        proc.wait()


# -- 1. the cost of --sync-on-commit on Apsara's write paths ------------------------------


async def _ops(core: Core, bare: AsyncMongoClient) -> dict[str, Op]:
    """The timed operations on one server, ready to call."""
    await core.plans.set_limit(actor=Principal.operator(), plan="premium", model=FLASH, daily=10**9)
    actor = principal_of(await create_user(core, f"d{time.time_ns()}@example.com", plan="premium"))
    cid = (await core.conversations.create(actor=actor, title="durability"))["conversationId"]

    async def reserve_commit() -> None:
        r = await core.limits.reserve(actor=actor, model=FLASH)
        await core.limits.commit(r, prompt_tokens=1, output_tokens=1)

    async def reserve() -> None:
        await core.limits.reserve(actor=actor, model=FLASH)

    return {
        "insert, w:1 j:false (driver default)": lambda: bare.durability.raw.insert_one({}),
        "insert, w:majority j:true (Apsara)": lambda: core.db.raw.insert_one({}),
        "quota reservation": reserve,
        "reservation + commit": reserve_commit,
        "send (core.chat.generate, fake Gemini)": lambda: core.chat.generate(
            actor=actor, conversation_id=cid, text="hello durability"
        ),
    }


async def _time(op: Op) -> float:
    started = time.perf_counter()
    await op()
    return (time.perf_counter() - started) * 1000


async def _costs(uris: dict[str, str], gemini: str, tmp: Path, runs: int) -> list[str]:
    cores = {
        n: await open_core(chat_settings(u, gemini, tmp / n.strip("-"))) for n, u in uris.items()
    }
    bares = {n: AsyncMongoClient(u, w=1, journal=False) for n, u in uris.items()}
    try:
        ops = {n: await _ops(cores[n], bares[n]) for n in uris}
        samples: dict[tuple[str, str], list[float]] = {}
        for _ in range(runs):
            for name in ops["default"]:
                for setting in uris:  # alternate, so drift hits both alike
                    samples.setdefault((name, setting), []).append(await _time(ops[setting][name]))
        return _cost_lines(samples)
    finally:
        for n in uris:
            await bares[n].close()
            await cores[n].close()


def _cost_lines(samples: dict[tuple[str, str], list[float]]) -> list[str]:
    out = []
    for name in dict.fromkeys(n for n, _ in samples):
        plain = statistics.median(samples[(name, "default")])
        synced = statistics.median(samples[(name, "--sync-on-commit")])
        out.append(
            f"{name:<40} p50 default {plain:7.2f} ms, --sync-on-commit {synced:7.2f} ms"
            f" ({synced / plain:.2f}x, {synced - plain:+.2f} ms)"
        )
    return out


# -- 2. SIGKILL right after the last acknowledgement -------------------------------------


async def _apsara_client(uri: str) -> AsyncMongoClient:
    client, _ = await connect(Target(uri, "durability", True, "durability"))
    return client


def _writer(kind: str, client: AsyncMongoClient) -> Callable[[int], Awaitable[Any]]:
    db = client.durability
    if kind != "transaction, Apsara's client":
        return lambda i: db.log.insert_one({"_id": i})
    return lambda i: writes.transaction(
        db,
        lambda s: writes.apply(
            db,
            [
                Insert("log", {"_id": i}),
                Update("totals", {"_id": "t"}, {"$inc": {"n": 1}}, upsert=True),
            ],
            session=s,
        ),
    )


async def _kill_case(kind: str, sync_on_commit: bool, count: int, tmp: Path) -> int:
    """Acknowledged writes of `kind` that survive a SIGKILL of the server."""
    storage = tmp / f"kill-{time.time_ns()}"
    with disk_server(storage, sync_on_commit=sync_on_commit) as (uri, proc):
        client = (
            AsyncMongoClient(uri, w=1, journal=False)
            if kind.startswith("insert, w:1")
            else await _apsara_client(uri)
        )
        write = _writer(kind, client)
        for i in range(count):
            await write(i)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        await client.close()
    with disk_server(storage, sync_on_commit=False) as (uri, _):
        reader = AsyncMongoClient(uri)
        try:
            return await reader.durability.log.count_documents({"_id": {"$lt": count}})
        finally:
            await reader.close()


async def _kills(count: int, repeat: int, tmp: Path) -> list[str]:
    kinds = [
        "insert, w:1 j:false",
        "insert, Apsara's client (j:true)",
        "transaction, Apsara's client",
    ]
    lines = []
    for setting, flag in SETTINGS.items():
        for kind in kinds:
            kept = [await _kill_case(kind, flag, count, tmp) for _ in range(repeat)]
            lines.append(
                f"SIGKILL, {setting:<16} {kind:<34} survived "
                + ", ".join(f"{k}/{count}" for k in kept)
            )
            print(lines[-1], flush=True)
    return lines


async def main(args: argparse.Namespace) -> int:
    """Measure the costs, then the SIGKILL survivals; prints both."""
    with TemporaryDirectory(prefix="apsara-durability-") as name, fake_gemini_process() as gemini:
        tmp = Path(name)
        with (
            disk_server(tmp / "plain", sync_on_commit=False) as (plain, _),
            disk_server(tmp / "synced", sync_on_commit=True) as (synced, _),
        ):
            lines = await _costs(
                {"default": plain, "--sync-on-commit": synced}, gemini, tmp, args.runs
            )
        print("\n".join(lines), flush=True)
        await _kills(args.writes, args.repeat, tmp)
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100, help="timed calls per operation")
    parser.add_argument("--writes", type=int, default=200, help="writes before each SIGKILL")
    parser.add_argument("--repeat", type=int, default=3, help="SIGKILLs per case")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
