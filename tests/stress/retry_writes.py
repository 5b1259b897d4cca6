"""Retryable writes slow the embedded server down; Apsara's client does not use them there.

    .venv/bin/python -m tests.stress.retry_writes [--steps 20000]

A fresh in-memory server per case, one client, journaled writes, an `update_one` plus an
`insert_one` per step, timed per 1,000 steps:

- `bare, retryWrites=true`: pymongo's default; the time per step grows with the number of
  retryable writes the server process has taken;
- `bare, retryWrites=false`: flat;
- `apsara connect()`: the client Apsara opens (`apsara_core.db.client.connect`), which must
  stay flat over all the steps.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path
from tempfile import TemporaryDirectory

from pymongo import AsyncMongoClient

from apsara_core.db.client import Target, connect
from apsara_core.db.embedded import free_port, spawn, wait_ready

BLOCK = 1000


async def _loop(client: AsyncMongoClient, steps: int) -> list[float]:
    db, per_block, started = client.stress, [], time.perf_counter()
    for i in range(1, steps + 1):
        await db.counter.update_one({"_id": 1}, {"$inc": {"n": 1}}, upsert=True)
        await db.log.insert_one({"i": i})
        if i % BLOCK == 0:
            now = time.perf_counter()
            per_block.append((now - started) / BLOCK * 1000)
            started = now
    return per_block


async def _case(name: str, steps: int) -> list[float]:
    with TemporaryDirectory() as tmp:
        port = free_port()
        proc = spawn(":memory:", port, Path(tmp) / "server.log", detach=False)
        try:
            wait_ready(proc, port, Path(tmp) / "server.log")
            uri = f"mongodb://127.0.0.1:{port}/stress"
            if name == "apsara connect()":
                client, _ = await connect(Target(uri, "stress", False, "stress"))
            else:
                client = AsyncMongoClient(uri, w=1, journal=True, retryWrites=name.endswith("true"))
            try:
                return await _loop(client, steps)
            finally:
                await client.close()
        finally:
            proc.kill()
            proc.wait()


async def main(steps: int) -> int:
    cases = ["bare, retryWrites=true", "bare, retryWrites=false", "apsara connect()"]
    flat = True
    for name in cases:
        blocks = await _case(name, min(steps, 6000) if name.endswith("true") else steps)
        first, last = statistics.mean(blocks[:2]), statistics.mean(blocks[-2:])
        shown = " ".join(f"{b:.1f}" for b in blocks)
        print(f"{name:26} ms per step, per {BLOCK} steps: {shown}")
        print(f"{'':26} first {first:.2f} ms, last {last:.2f} ms ({last / first:.2f}x)")
        if name == "apsara connect()":
            flat = last <= 1.5 * first
    print(
        "PASS" if flat else "FAIL",
        "apsara's client stays within 1.5x of its start over",
        steps,
        "steps",
    )
    return 0 if flat else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    raise SystemExit(asyncio.run(main(parser.parse_args().steps)))
