"""A third-party plugin package made inside the tests: a module plus a real `*.dist-info`
with an `entry_points.txt`, on sys.path, so `importlib.metadata` finds it as it would an
installed distribution (`acme` plugins, and one entry point that fails to import)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

MODULE = """
import asyncio
import time

from pydantic import BaseModel, ConfigDict

from apsara_core.plugins import Plugin


class Sleep(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float
    marker: str | None = None  # a file: each run appends a line (counts runs)


class Nothing(BaseModel):
    model_config = ConfigDict(extra="forbid")


async def run_sleep(p, ctx):
    if p.marker:
        with open(p.marker, "a") as f:
            f.write(ctx.call_id + "\\n")
    await asyncio.sleep(p.seconds)
    return {"slept": p.seconds}


def run_block(p, ctx):
    time.sleep(p.seconds)
    return {"slept": p.seconds}


def run_raise(p, ctx):
    raise RuntimeError("kaboom")


def run_object(p, ctx):
    return {"x": object()}


def run_huge(p, ctx):
    return "x" * (50 * 1024 * 1024)


def plugins():
    return [
        Plugin("acme", "sleep", "Sleeps (async)", Sleep, run_sleep, timeout_s=60),
        Plugin("acme", "block", "Sleeps in a thread", Sleep, run_block, timeout_s=60),
        Plugin("acme", "hang", "Sleeps past its timeout", Sleep, run_sleep, timeout_s=0.3),
        Plugin("acme", "boom", "Raises", Nothing, run_raise),
        Plugin("acme", "object", "Returns an object", Nothing, run_object),
        Plugin("acme", "huge", "Returns 50 MB", Nothing, run_huge),
        Plugin("acme", "synconly", "Sync only", Nothing, lambda p, c: 1, may_run_async=False),
    ]
"""

ENTRY_POINTS = """[apsara.plugins]
acme = acme_plugins:plugins
broken = acme_plugins_missing:plugins
"""


def write_package(root: Path) -> Path:
    """Write the package under `root` (a sys.path entry); returns `root`."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "acme_plugins.py").write_text(MODULE)
    info = root / "acme_plugins-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-plugins\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    (info / "top_level.txt").write_text("acme_plugins\n")
    return root


@pytest.fixture
def acme(tmp_path: Path) -> Iterator[Path]:
    """The acme package installed on sys.path for this test (PYTHONPATH for subprocesses)."""
    root = write_package(tmp_path / "site")
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    try:
        yield root
    finally:
        sys.path.remove(str(root))
        sys.modules.pop("acme_plugins", None)
        importlib.invalidate_caches()
