"""The embedded server's TTL monitor under sustained writes, with the bare driver only.

    .venv/bin/python -m tests.stress.soak_repro [--seconds 180] [--threads 16]
        [--prefill 50000] [--modes ttl,plain]

For each mode, a fresh `secantusd-py` on a temporary data dir (on disk, as the app runs it)
and one collection shaped like `reservation_closures`: an index on `closedAt`, a TTL index
(7 days, nothing ever expires) in mode `ttl`, a plain index in modes `plain` and `txn` (both
writes of a step in one transaction, as a send stores its messages). `--prefill`
documents are inserted first (what a server holds after a few hours of traffic), then
`--threads` threads each repeat one journaled `insert_one` there plus one `update_one` of a
counter, as a generate does. Printed per 20 s: operations per second, p50, p99 and the
longest step, and the server's RSS.

What it shows (measured 2026-12-02, see the README): the server's TTL monitor runs every
60 s and, for each collection with a TTL index, decodes every document of it under the
storage lock, expired or not; every write waits meanwhile. The stall grows with the
collection, so a collection that only grows (closures live 7 days) slows the whole server
down more each minute. With a plain index nothing stalls: `apsara_core/db/expiry.py` then
deletes expired documents itself, by an indexed range.

Its memory: RSS grew about 10x faster per step in mode `txn` than in `plain` (1,228 vs 124 MiB
per 100,000 steps): the server keeps something per committed transaction. `--server-args`
repeats each mode with extra server options (e.g. `--cache-size 128M`).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pymongo import MongoClient

from apsara_core.db.embedded import find_executable, free_port, wait_ready

WEEK_S = 7 * 86400
WINDOW_S = 20.0


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _worker(uri: str, stop: float, out: list[tuple[float, float]], txn: bool) -> None:
    client: MongoClient = MongoClient(uri, w="majority", journal=True, retryWrites=False)
    db = client.repro

    def step(session: Any = None) -> None:
        doc = {"closedAt": datetime.now(UTC), "units": 1, "pad": "x" * 200}
        db.closures.insert_one(doc, session=session)
        db.counters.update_one({"_id": "c"}, {"$inc": {"n": 1}}, upsert=True, session=session)

    try:
        while time.monotonic() < stop:
            t0 = time.monotonic()
            if txn:  # as a send stores its messages: both writes in one transaction
                with client.start_session() as session:
                    session.with_transaction(step)
            else:
                step()
            out.append((t0, time.monotonic() - t0))
    finally:
        client.close()


def _server(tmp: str, port: int, extra: list[str]) -> subprocess.Popen[bytes]:
    args = [find_executable(), "--host", "127.0.0.1", "--port", str(port)]
    args += ["--storage-path", str(Path(tmp) / "db"), "--log-level", "WARNING", *extra]
    log = open(Path(tmp) / "server.log", "ab")  # noqa: SIM115 - the child's, closed below
    try:
        return subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    finally:
        log.close()


def run_mode(
    mode: str, seconds: float, threads: int, prefill: int, extra: list[str] | None = None
) -> list[str]:
    """One fresh server (with `extra` options), one mode: the per-window table as lines."""
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        log_path = Path(tmp) / "server.log"
        proc = _server(tmp, port, extra or [])
        try:
            wait_ready(proc, port, log_path)
            uri = f"mongodb://127.0.0.1:{port}/repro"
            admin: MongoClient = MongoClient(uri, retryWrites=False)
            ttl = {"expireAfterSeconds": WEEK_S} if mode == "ttl" else {}  # plain, txn: none
            admin.repro.counters.insert_one({"_id": "c", "n": 0})
            admin.repro.closures.create_index("closedAt", **ttl)
            now = datetime.now(UTC)
            for start in range(0, prefill, 1000):
                n = min(1000, prefill - start)
                admin.repro.closures.insert_many(
                    [{"closedAt": now, "units": 1, "pad": "x" * 200} for _ in range(n)]
                )
            samples: list[tuple[float, float]] = []
            begin = time.monotonic()
            stop = begin + seconds
            workers = [
                threading.Thread(target=_worker, args=(uri, stop, samples, mode == "txn"))
                for _ in range(threads)
            ]
            for w in workers:
                w.start()
            rss: list[float] = []
            while any(w.is_alive() for w in workers):
                time.sleep(WINDOW_S / 4)
                rss.append(_rss_mib(proc.pid))
            for w in workers:
                w.join()
            stored = admin.repro.counters.find_one({"_id": "c"}) or {}
            admin.close()
        finally:
            proc.kill()
            proc.wait()
    lines = [f"mode {mode} {' '.join(extra or [])}: prefill {prefill}, steps {stored.get('n', 0)}"]
    lines.append(f"{'window':>8} {'ops/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}")
    windows = int(seconds // WINDOW_S)
    for i in range(windows):
        got = sorted(d for t, d in samples if i * WINDOW_S <= t - begin < (i + 1) * WINDOW_S)
        if not got:
            continue
        lines.append(
            f"{int(i * WINDOW_S):>6} s {len(got) / WINDOW_S:>7.1f}"
            f" {statistics.median(got) * 1000:>7.1f} {got[int(len(got) * 0.99)] * 1000:>7.1f}"
            f" {got[-1] * 1000:>7.0f}"
        )
    steps = max(int(stored.get("n", 0)), 1)
    lines.append(
        f"server RSS: {rss[0]:.0f} -> {rss[-1]:.0f} MiB (max {max(rss):.0f}),"
        f" {(rss[-1] - rss[0]) * 100_000 / steps:.0f} MiB per 100,000 steps"
        if rss
        else "server RSS: ?"
    )
    return lines


def main(argv: list[str]) -> int:
    """Run each mode on its own fresh server and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--prefill", type=int, default=50_000)
    parser.add_argument("--modes", default="ttl,plain")
    parser.add_argument(
        "--server-args",
        action="append",
        default=[],
        help="extra secantusd-py options for one more run of each mode, e.g. '--cache-size 128M'",
    )
    args = parser.parse_args(argv)
    for extra in [""] + args.server_args if args.server_args else [""]:
        for mode in args.modes.split(","):
            lines = run_mode(mode, args.seconds, args.threads, args.prefill, extra.split())
            for line in lines:
                print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
