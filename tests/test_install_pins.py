"""A fresh install gets the packages the suite passed with: the installed ones come from
uv.lock (`uv sync --locked`), and what builds Apsara itself, which no lock covers, is pinned
exactly in pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_build_requirements_are_exact_versions() -> None:
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    assert build and all(re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][0-9A-Za-z.]*", r) for r in build)


def test_the_lock_files_are_committed_beside_the_project() -> None:
    for name in ("uv.lock", "requirements.lock"):
        assert (ROOT / name).stat().st_size > 0
    assert "uv sync --locked" in (ROOT / "Makefile").read_text()
