"""The admission stress check, short (`pytest -m slow tests/stress`; not in the default run)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_admission_stays_exact_under_load(mongo_uri: str) -> None:
    """2 processes x 20 concurrent attempts beside a CPU burner for 20 s, on this run's
    server: every round admits exactly the limit, stores it, and counts every failed login."""
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.stress.admission",
            "--seconds",
            "20",
            "--processes",
            "2",
            "--tasks",
            "20",
            "--limit",
            "15",
        ],
        env={**os.environ, "MONGODB_URI": mongo_uri},
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        timeout=280,
    )
    lines = run.stdout.strip().splitlines()
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert lines[-1].startswith("PASS")
    assert any(" quota full " in line and line.endswith("ok") for line in lines)
