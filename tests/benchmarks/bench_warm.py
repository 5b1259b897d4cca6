"""The first message of a process vs its tenth, with the background warm-up (issue 16 item 4).

Each sample is a fresh process (`python -m tests.benchmarks.bench_warm URI BASE_URL MODE`)
that opens a Core as `apsara serve` does, then, in mode "warm", runs `core.warm_up()` (what
serve's lifespan and the app start in the background) before the first request arrives, and
times ten `core.chat.generate` calls against the fake Gemini process. Mode "cold" skips the
warm-up, for reference. Goal: warm first <= 1.5x the tenth.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.benchmarks.report import Result

PROCESSES = 3


async def _child(uri: str, base_url: str, mode: str, email: str = "", cid: str = "") -> object:
    from pydantic import SecretStr

    from apsara_core.config import Settings
    from apsara_core.core import open_core
    from tests.factories import create_user, principal_of

    settings = Settings(
        _env_file=None,
        mongodb_uri=uri,
        jwt_secret="b" * 40,
        data_dir=Path(tempfile.mkdtemp()),
        google_ai_api_key=SecretStr("fake-gemini-key"),
        google_gemini_base_url=base_url,
    )
    core = await open_core(settings)
    if mode == "setup":  # one user and conversation for every process: their first-of-day
        user = await create_user(core, "warm@example.com", plan="premium")  # writes are done
        conv = await core.conversations.create(actor=principal_of(user), title="warm")
        cid = conv["conversationId"]
        await core.chat.generate(actor=principal_of(user), conversation_id=cid, text="setup")
        await core.close()
        return [user["email"], cid]
    if mode == "warm":
        await core.warm_up()
    from apsara_core.models import Principal

    actor = principal_of(await core.users.get(actor=Principal.operator(), user=email))
    out = []
    for i in range(10):
        started = time.perf_counter()
        await core.chat.generate(actor=actor, conversation_id=cid, text=f"m{i}")
        out.append((time.perf_counter() - started) * 1000)
    await core.close()
    return out


def _in_child(*args: str) -> list:
    done = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.bench_warm", *args],
        capture_output=True,
        text=True,
        timeout=180,
    )
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def run() -> list[Result]:
    """Median over PROCESSES fresh processes of the first and the tenth generate."""
    from apsara_core.db.embedded import free_port, spawn, wait_ready
    from tests.fakes.gemini_process import fake_gemini_process

    samples: dict[str, list[list[float]]] = {"warm": [], "cold": []}
    with tempfile.TemporaryDirectory() as tmp, fake_gemini_process() as base_url:
        log, port = Path(tmp) / "server.log", free_port()
        proc = spawn(":memory:", port, log, detach=False)
        try:
            wait_ready(proc, port, log)
            uri = f"mongodb://127.0.0.1:{port}/bench_warm"
            who = _in_child(uri, base_url, "setup")
            for _ in range(PROCESSES):
                for mode in ("warm", "cold"):
                    samples[mode].append(_in_child(uri, base_url, mode, *who))
        finally:
            proc.terminate()
            proc.wait(10)
    first = {m: statistics.median(s[0] for s in v) for m, v in samples.items()}
    tenth = {m: statistics.median(s[9] for s in v) for m, v in samples.items()}
    return [
        Result("warm: 10th generate of a process", tenth["warm"], "ms"),
        Result(
            "warm: 1st generate after the background warm-up",
            first["warm"],
            "ms",
            ratio=first["warm"] / tenth["warm"],
            goal=1.5,
        ),
        Result(
            f"warm: 1st generate without warm-up ({first['cold'] / tenth['cold']:.1f}x its 10th)",
            first["cold"],
            "ms",
        ),
    ]


if __name__ == "__main__":
    print(json.dumps(asyncio.run(_child(*sys.argv[1:]))))
