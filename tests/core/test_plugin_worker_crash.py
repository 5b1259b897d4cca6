"""A worker process SIGKILLed mid-job: its lease runs out and another `apsara worker` process
runs the job again from the start; the outcome, the tool message and the model's answer are
written exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import apsara_env
from tests.core.chat_helpers import premium, stored, used
from tests.fakes.fixtures import gemini_env

pytestmark = pytest.mark.slow


def start_worker(env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "apsara_tui", "worker", "--concurrency", "1"],
        env=env,
        cwd=cwd,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


async def wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_a_killed_workers_job_is_finished_once_by_another(
    chat_core, fake_gemini, acme, tmp_path
):
    env = apsara_env(
        chat_core.settings.mongodb_uri.get_secret_value(),
        tmp_path,
        APSARA_JOB_LEASE_S="1.5",
        APSARA_JOB_POLL_S="0.2",
        PYTHONPATH=os.pathsep.join([str(acme), os.environ.get("PYTHONPATH", "")]),
        **gemini_env(fake_gemini),
    )
    actor = await premium(chat_core)
    marker = tmp_path / "runs.txt"
    r = await chat_core.plugins.call(
        actor=actor,
        provider="acme",
        plugin="sleep",
        parameters={"seconds": 2, "marker": str(marker)},
        run_async=True,
        send_to_model=True,
    )
    log = tmp_path / "workers.log"
    first = start_worker(env, tmp_path, log)
    try:
        await wait_for(lambda: asyncio.sleep(0, marker.exists()))
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        killed_at = time.monotonic()
        second = start_worker(env, tmp_path, log)
        try:
            job = await chat_core.jobs.wait(actor=actor, job_id=r["jobId"], timeout=60)
            recovery = time.monotonic() - killed_at
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(20)
    finally:
        if first.poll() is None:
            first.kill()
    print(f"crash recovery: {recovery:.2f} s from SIGKILL to succeeded (lease 1.5 s)")
    assert job["status"] == "succeeded", log.read_text()
    assert job["attempt"] == 2 and job["result"] == {"slept": 2}
    assert marker.read_text().splitlines() == [r["jobId"], r["jobId"]]  # ran again from the start
    msgs = await stored(chat_core, r["conversationId"])
    assert [m["role"] for m in msgs] == ["tool", "model"]
    assert [msgs[0]["messageId"], msgs[1]["messageId"]] == [
        job["toolMessageId"],
        job["modelMessageId"],
    ]
    assert await used(chat_core, actor) == 1
