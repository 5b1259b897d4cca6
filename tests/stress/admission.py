"""Admission stays exact under load: admitted == stored == the limit, every round.

    .venv/bin/python -m tests.stress.admission [--seconds 120] [--processes 4] [--tasks 50]

Starts its own embedded server on a temporary data dir (`--memory` for an in-memory one,
`--sync-on-commit` to start it with that flag; or MONGODB_URI: a throw-away database
there), a CPU burner process, and `--processes` OS processes, each with its own Core. Each
round takes fresh identities and runs the paths of `tests/stress/admission_paths.py` one
after the other, every process firing `--tasks` concurrent attempts at once:

- `bare $inc`: the driver's conditional update on one document (the server's own baseline);
- `quota`: reserve + commit + a second close, for a user whose plan allows `--limit`;
- `limiter`: request-limiter hits on one key allowed `--limit` per window;
- `login fails`: wrong passwords for one account: every attempt must be counted;
- `quota full`, `limiter full`: the first round's user and key again: nothing more admitted,
  and second refunds of the user's reservations committed in round 1 change nothing.

The services' clocks are pinned to one instant for the whole run (no round straddles a
window or a day; the limiter's window is a day), `--days-back` days before the real time
(default 30): the condition that made the TTL monitor, which sweeps every 60 s, delete
records mid-test (see repos/ttl.py); the `full` paths catch a deleted record. After the load: the same single-process round of
60 concurrent conditional updates on the loaded server and on a fresh one (whether a
slowdown persists). Prints every round; the last line is PASS or FAIL (exit 1).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any
from urllib.parse import urlsplit
from uuid import uuid4

from apsara_core.config import Settings
from apsara_core.core import Core, open_core
from apsara_core.db.embedded import free_port, spawn, wait_ready
from apsara_core.models import Principal
from apsara_core.repos.users import new_id
from tests.stress.admission_paths import FLASH, PASSWORD, PATHS, PLAN, AdmissionPath, Round

SECRET = "stress-" + "s" * 40
PEPPER = "stress-pepper-" + "p" * 40  # every process on one database shares it, as in production
LIMITER_WINDOW_MS = 86_400_000  # a day: the first round's window stays current all run


def _settings(uri: str, data_dir: Path) -> Settings:
    return Settings(
        _env_file=None,
        mongodb_uri=uri,
        jwt_secret=SECRET,
        password_pepper=PEPPER,
        data_dir=data_dir,
        bcrypt_rounds=4,
        env="test",
    )


def _burn() -> None:
    while True:
        pass


# -- the worker processes -----------------------------------------------------------------


def _worker(conn: Any, uri: str, data_dir: str) -> None:
    """A process of its own: one Core, one event loop, attempts on request."""
    asyncio.run(_serve(conn, uri, Path(data_dir)))


async def _serve(conn: Any, uri: str, data_dir: Path) -> None:
    core = await open_core(_settings(uri, data_dir))
    by_name = {p.name: p for p in PATHS}
    conn.send("ready")
    try:
        while (msg := await asyncio.to_thread(conn.recv)) != "stop":
            spec, name, tasks = Round(**msg[0]), msg[1], msg[2]
            clock = datetime.fromisoformat(spec.clock)
            core.clock.set(clock)  # every service reads the one clock
            core.request_limiter.max_requests = spec.limit
            core.request_limiter.window_ms = LIMITER_WINDOW_MS
            conn.send(await _attempts(core, by_name[name], spec, tasks))
    finally:
        await core.close()


async def _attempts(core: Core, path: AdmissionPath, spec: Round, tasks: int) -> dict[str, Any]:
    results = await asyncio.gather(
        *(path.attempt(core, spec) for _ in range(tasks)), return_exceptions=True
    )
    errors = [repr(r)[:200] for r in results if isinstance(r, BaseException)]
    return {"admitted": sum(r is True for r in results), "errors": errors}


# -- the orchestrator ---------------------------------------------------------------------


@contextmanager
def _server(memory: bool, sync_on_commit: bool) -> Iterator[str]:
    """MONGODB_URI when set, else a fresh embedded server killed afterwards."""
    if os.environ.get("MONGODB_URI"):
        yield os.environ["MONGODB_URI"]
        return
    with TemporaryDirectory(prefix="apsara-stress-") as tmp:
        port, log = free_port(), Path(tmp) / "server.log"
        storage = ":memory:" if memory else str(Path(tmp) / "db")
        proc = spawn(storage, port, log, detach=False, sync_on_commit=sync_on_commit)
        try:
            wait_ready(proc, port, log)
            yield f"mongodb://127.0.0.1:{port}/"
        finally:
            proc.kill()
            proc.wait()


def _with_database(uri: str, name: str) -> str:
    return urlsplit(uri)._replace(path=f"/{name}").geturl()


async def _new_round(
    core: Core, number: int, clock: datetime, limit: int, first: Round | None
) -> Round:
    """Fresh identities for round `number`: a bare counter, a user, a key, an account."""
    bare_id, email = f"bare-{uuid4().hex}", f"stress-{uuid4().hex[:12]}@example.com"
    await core.db.stress_bare.insert_one({"_id": bare_id, "n": 0})
    await core.users.create(
        actor=Principal.operator(),
        email=email,
        full_name="Stress",
        password=PASSWORD,
        verified=True,
    )
    return Round(
        number,
        clock.isoformat(),
        limit,
        bare_id,
        new_id(),
        f"stress:{uuid4().hex}",
        email,
        first.user_id if first else None,
        first.limiter_key if first else None,
    )


async def _phase(
    conns: list[Any], core: Core, path: AdmissionPath, spec: Round, tasks: int
) -> dict[str, Any]:
    """Every worker fires `tasks` attempts at once; then what the database holds."""
    started = time.perf_counter()
    for conn in conns:
        conn.send((asdict(spec), path.name, tasks))
    replies = [await asyncio.to_thread(conn.recv) for conn in conns]
    seconds = time.perf_counter() - started
    attempts = tasks * len(conns)
    admitted = sum(r["admitted"] for r in replies)
    errors = [e for r in replies for e in r["errors"]]
    stored = await path.stored(core, spec)
    want = path.expected(spec, attempts)
    ok = not errors and (admitted, stored) == want
    return {
        "path": path.name,
        "attempts": attempts,
        "admitted": admitted,
        "stored": stored,
        "want": want,
        "seconds": seconds,
        "errors": errors,
        "ok": ok,
    }


def _print_phase(number: int, p: dict[str, Any]) -> None:
    per = p["seconds"] / p["attempts"] * 1000
    print(
        f"round {number:3}  {p['path']:<13} attempts {p['attempts']:4}  admitted "
        f"{p['admitted']:4}  stored {p['stored']:4}  expected {p['want'][0]}/{p['want'][1]}"
        f"  {p['seconds']:6.2f} s {per:6.1f} ms/attempt  {'ok' if p['ok'] else 'FAIL'}",
        flush=True,
    )
    for error in p["errors"][:3]:
        print(f"           error: {error}", flush=True)


async def _rounds(
    core: Core, conns: list[Any], args: argparse.Namespace, clock: datetime
) -> list[dict[str, Any]]:
    """Rounds until `--seconds` have passed; every phase of every round."""
    phases: list[dict[str, Any]] = []
    first: Round | None = None
    deadline = time.monotonic() + args.seconds
    number = 0
    while number == 0 or time.monotonic() < deadline:
        number += 1
        spec = await _new_round(core, number, clock, args.limit, first)
        started = time.perf_counter()
        for path in PATHS:
            if path.needs_full and first is None:
                continue
            phases.append(await _phase(conns, core, path, spec, args.tasks))
            _print_phase(number, phases[-1])
        print(f"round {number:3}  took {time.perf_counter() - started:.2f} s", flush=True)
        first = first or spec
    return phases


# -- after the load: does a slowdown persist? ---------------------------------------------


async def contention_round(core: Core, updates: int = 60) -> float:
    """Seconds for `updates` concurrent conditional updates of one document, one process."""
    doc_id = f"after-{uuid4().hex}"
    await core.db.stress_bare.insert_one({"_id": doc_id, "n": 0})
    started = time.perf_counter()
    await asyncio.gather(
        *(
            core.db.stress_bare.update_one(
                {"_id": doc_id, "n": {"$lt": updates}}, {"$inc": {"n": 1}}
            )
            for _ in range(updates)
        )
    )
    return time.perf_counter() - started


async def _median_round(core: Core) -> float:
    return statistics.median([await contention_round(core) for _ in range(5)])


async def _after_load(loaded: Core, args: argparse.Namespace, tmp: Path) -> None:
    after = await _median_round(loaded)
    if os.environ.get("MONGODB_URI"):
        print(f"after the load: one process, 60 concurrent conditional updates: {after:.3f} s")
        return
    with _server(args.memory, args.sync_on_commit) as uri:
        fresh = await open_core(_settings(_with_database(uri, "fresh"), tmp / "fresh"))
        try:
            baseline = await _median_round(fresh)
        finally:
            await fresh.close()
    print(
        f"after the load: one process, 60 concurrent conditional updates: loaded server "
        f"{after:.3f} s, fresh server {baseline:.3f} s ({after / baseline:.2f}x)"
    )


# -- main ---------------------------------------------------------------------------------


def _start(args: argparse.Namespace, uri: str, tmp: Path) -> tuple[list[Any], list[Any]]:
    """The burners and the workers; returns the workers' pipes and every process."""
    ctx = mp.get_context("spawn")
    burners = [ctx.Process(target=_burn, daemon=True) for _ in range(args.burners)]
    pipes = [ctx.Pipe() for _ in range(args.processes)]
    workers = [
        ctx.Process(target=_worker, args=(child, uri, str(tmp / f"w{i}")), daemon=True)
        for i, (_, child) in enumerate(pipes)
    ]
    for proc in burners + workers:
        proc.start()
    conns = [parent for parent, _ in pipes]
    for conn in conns:  # each worker answers once its Core is open
        if conn.recv() != "ready":
            raise RuntimeError("a worker did not start")
    return conns, workers + burners


def _stop(conns: list[Any], procs: list[Any]) -> None:
    """Workers close their Cores and exit; burners (and a stuck worker) are terminated."""
    for conn in conns:
        conn.send("stop")
    for proc in procs[: len(conns)]:
        proc.join(10)
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
            proc.join(5)


def _summary(phases: list[dict[str, Any]]) -> bool:
    for name in dict.fromkeys(p["path"] for p in phases):
        mine = [p for p in phases if p["path"] == name]
        secs = statistics.median(p["seconds"] for p in mine)
        print(
            f"{name:<13} rounds {len(mine):3}  median {secs:6.2f} s per round, "
            f"{secs / mine[0]['attempts'] * 1000:6.1f} ms per attempt  "
            f"{sum(p['ok'] for p in mine)}/{len(mine)} exact"
        )
    return all(p["ok"] for p in phases)


async def main(args: argparse.Namespace) -> int:
    """Run the rounds and the after-load check; 0 when every phase was exact."""
    clock = datetime.now(UTC).replace(microsecond=0) - timedelta(days=args.days_back)
    with _server(args.memory, args.sync_on_commit) as uri, TemporaryDirectory() as tmp_name:
        tmp, db_uri = Path(tmp_name), _with_database(uri, f"stress_{uuid4().hex[:12]}")
        core = await open_core(_settings(db_uri, tmp / "main"))
        try:
            await core.plans.set_limit(
                actor=Principal.operator(), plan=PLAN, model=FLASH, daily=args.limit
            )
            conns, procs = _start(args, db_uri, tmp)
            try:
                phases = await _rounds(core, conns, args, clock)
            finally:
                _stop(conns, procs)
            ok = _summary(phases)
            await _after_load(core, args, tmp)
        finally:
            await core.client.drop_database(core.db.name)
            await core.close()
    bad = sum(not p["ok"] for p in phases)
    print(
        "PASS: admitted == stored == expected in every phase"
        if ok
        else f"FAIL: {bad} of {len(phases)} phases were not exact"
    )
    return 0 if ok else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="run rounds this long")
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--tasks", type=int, default=50, help="concurrent attempts per process")
    parser.add_argument("--limit", type=int, default=60, help="admissions allowed per round")
    parser.add_argument("--burners", type=int, default=1, help="CPU burner processes")
    parser.add_argument(
        "--days-back",
        type=float,
        default=30.0,
        help="pin the services' clocks this many days before now",
    )
    parser.add_argument("--memory", action="store_true", help="an in-memory embedded server")
    parser.add_argument(
        "--sync-on-commit",
        action="store_true",
        help="start the embedded server with --sync-on-commit",
    )
    args = parser.parse_args(argv)
    if not 0 < args.limit < args.processes * args.tasks:
        parser.error(
            "--limit must be positive and below processes x tasks (some attempts must be refused)"
        )
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
