"""Plugin-job benchmarks on an on-disk embedded server (sync on commit, as the app's default),
with `apsara worker` processes, measured in one run.

(a) async round trip p50: submit (google/echo, runAsync) -> result readable, one idle worker
    process woken by the change stream, against a bare insert + read of one document;
(b) a 1,000-job backlog drained by 2 worker processes (concurrency 4 each): jobs/s;
(c) crash recovery: a worker SIGKILLed mid-job (lease 1.5 s), a second worker already running:
    seconds from the kill to the job readable as succeeded.
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from apsara_core.config import Settings
from apsara_core.core import Core, open_core
from apsara_core.db.embedded import free_port, spawn, wait_ready
from apsara_core.models import Principal
from apsara_core.services.plugin_jobs import JobSpec
from tests.benchmarks.report import Result
from tests.factories import create_user, principal_of
from tests.plugin_fixtures import write_package

ROUND_TRIPS = 100
BACKLOG = 1000
SECRET = "b" * 40


def _env(uri: str, root: Path, site: Path) -> dict[str, str]:
    return {
        **os.environ,
        "MONGODB_URI": uri,
        "APSARA_DATA_DIR": str(root / "data"),
        "JWT_SECRET": SECRET,
        "APSARA_JOB_LEASE_S": "1.5",
        "APSARA_JOB_POLL_S": "1.0",
        "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
    }


def _worker(env: dict[str, str], root: Path, concurrency: int = 4) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "apsara_tui", "worker", "--concurrency", str(concurrency)],
        env=env,
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _done(core: Core, actor: Principal, job_id: str, poll: float = 0.002) -> dict[str, Any]:
    while True:
        job = await core.jobs.get(actor=actor, job_id=job_id)
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        await asyncio.sleep(poll)


async def _echo(core: Core, actor: Principal, cid: str) -> str:
    r = await core.plugins.call(
        actor=actor,
        provider="google",
        plugin="echo",
        parameters={"message": "ping"},
        conversation_id=cid,
        run_async=True,
    )
    return str(r["jobId"])


async def bench_round_trip(core: Core, actor: Principal, cid: str) -> list[Result]:
    """(a): submit -> succeeded readable, vs insert + read of one document."""
    bare, trips = [], []
    coll = core.db["bench_bare"]
    await _done(core, actor, await _echo(core, actor, cid))  # worker warmed up
    for i in range(ROUND_TRIPS):
        t0 = time.perf_counter()
        await coll.insert_one({"_id": i, "v": "ping"})
        await coll.find_one({"_id": i})
        bare.append((time.perf_counter() - t0) * 1000)
        await asyncio.sleep(0.01)  # the worker is idle again: it must be woken
        t0 = time.perf_counter()
        job = await _done(core, actor, await _echo(core, actor, cid))
        trips.append((time.perf_counter() - t0) * 1000)
        assert job["status"] == "succeeded", job
    p50_bare, p50 = statistics.median(bare), statistics.median(trips)
    return [
        Result("plugins (a): bare insert + read of one document, p50", p50_bare, "ms"),
        Result(
            "plugins (a): async echo job, submit -> result readable, p50",
            p50,
            "ms",
            ratio=p50 / p50_bare,
            goal=30.0,
        ),
        Result("plugins (a): async echo job p90", sorted(trips)[int(0.9 * len(trips))], "ms"),
    ]


async def bench_backlog(
    core: Core, actor: Principal, env: dict[str, str], root: Path
) -> list[Result]:
    """(b): 1,000 queued jobs (each in its own conversation), then 2 workers drain them."""
    ids = []
    for i in range(BACKLOG):
        conv = await core.conversations.create(actor=actor, title=f"backlog {i}")
        spec = JobSpec("google", "echo", {"message": f"job {i}"}, conv["conversationId"], False, "")
        ids.append((await core.jobs.enqueue(actor=actor, spec=spec))["jobId"])
    workers = [_worker(env, root), _worker(env, root)]
    try:
        t0 = time.perf_counter()
        while await core.db.jobs.count_documents({"status": {"$in": ["queued", "running"]}}):
            await asyncio.sleep(0.25)
        elapsed = time.perf_counter() - t0  # includes the workers' start (~1-2 s)
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            w.wait(30)
    done = await core.db.jobs.count_documents({"status": "succeeded", "_id": {"$in": ids}})
    assert done == BACKLOG, done
    return [
        Result(f"plugins (b): {BACKLOG}-job backlog, 2 workers x 4, drained in", elapsed, "s"),
        Result("plugins (b): throughput with 2 workers", BACKLOG / elapsed, "j/s"),
    ]


async def bench_recovery(
    core: Core, actor: Principal, cid: str, env: dict[str, str], root: Path
) -> list[Result]:
    """(c): SIGKILL a worker mid-job; a running second worker finishes it after the lease."""
    marker, job_s = root / "ran.txt", 6.0
    victim = _worker(env, root, 1)
    await asyncio.sleep(3)  # started and idle: it alone can claim the job
    r = await core.plugins.call(
        actor=actor,
        provider="acme",
        plugin="sleep",
        parameters={"seconds": job_s, "marker": str(marker)},
        conversation_id=cid,
        run_async=True,
    )
    while not marker.exists():
        await asyncio.sleep(0.01)
    rescuer = _worker(env, root, 1)
    await asyncio.sleep(2.5)  # the rescuer is up; the victim's run is still sleeping
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    t0 = time.perf_counter()
    try:
        job = await _done(core, actor, r["jobId"], poll=0.01)
    finally:
        rescuer.send_signal(signal.SIGTERM)
        rescuer.wait(30)
    elapsed = time.perf_counter() - t0
    runs = len(marker.read_text().splitlines())
    label = f"lease 1.5 s, poll 1 s; {job['status']}, attempt {job['attempt']}, {runs} runs"
    return [
        Result(f"plugins (c): SIGKILL -> succeeded ({label})", elapsed, "s"),
        Result(
            f"plugins (c): of which detection + re-claim (minus the {job_s:g} s re-run)",
            elapsed - job_s,
            "s",
        ),
    ]


async def _main(uri: str, root: Path, site: Path) -> list[Result]:
    core = await open_core(
        Settings(
            _env_file=None,
            mongodb_uri=uri,
            data_dir=root / "data",
            jwt_secret=SECRET,
            env="test",
            bcrypt_rounds=4,
        )
    )
    env = _env(uri, root, site)
    try:
        actor = principal_of(await create_user(core, "bench@example.com", plan="premium"))
        cid = (await core.conversations.create(actor=actor, title="bench"))["conversationId"]
        one = _worker(env, root, 1)
        try:
            results = await bench_round_trip(core, actor, cid)
        finally:
            one.send_signal(signal.SIGTERM)
            one.wait(30)
        results += await bench_backlog(core, actor, env, root)
        results += await bench_recovery(core, actor, cid, env, root)
        return results
    finally:
        await core.client.drop_database(core.db.name)
        await core.close()


def run() -> list[Result]:
    """Start an on-disk embedded server (sync on commit), then measure (a), (b), (c)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        port = free_port()
        log = root / "server.log"
        proc = spawn(str(root / "db"), port, log, detach=False, sync_on_commit=True)
        try:
            wait_ready(proc, port, log)
            site = write_package(root / "site")
            sys.path.insert(0, str(site))  # this process loads acme/sleep too (recovery job)
            return asyncio.run(_main(f"mongodb://127.0.0.1:{port}/bench_plugins", root, site))
        finally:
            proc.terminate()
            proc.wait(10)
