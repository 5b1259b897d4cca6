"""Cold start of `apsara` to its first frame vs a bare Textual app, measured the same way.

The embedded server is started once before measuring (as it is for any second Apsara process);
its own start is reported separately.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.benchmarks.report import Result

RUNS = 7


def _first_frame(mode: str, env: dict[str, str]) -> float:
    started = time.time()
    out = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.first_frame", mode],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return float(out.stdout.strip().splitlines()[-1]) - started


def run() -> list[Result]:
    """Median of RUNS alternating runs of each mode."""
    from apsara_core.db.embedded import EmbeddedServer

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "APSARA_DATA_DIR": tmp, "JWT_SECRET": "b" * 40}
        env.pop("MONGODB_URI", None)
        server = EmbeddedServer(Path(tmp))
        t0 = time.perf_counter()
        server.ensure_running()
        server_start = time.perf_counter() - t0
        try:
            _first_frame("apsara", env)  # creates the schema once
            bare, apsara = [], []
            for _ in range(RUNS):
                bare.append(_first_frame("bare", env))
                apsara.append(_first_frame("apsara", env))
        finally:
            server.stop()
    b, a = statistics.median(bare), statistics.median(apsara)
    return [
        Result("startup: bare Textual app, first frame", b * 1000, "ms"),
        Result("startup: apsara, first frame", a * 1000, "ms", ratio=a / b, goal=1.5),
        Result("startup: embedded server start (once per machine boot)", server_start * 1000, "ms"),
    ]
