"""`apsara` imports only what a command needs (issue 16 item 3), checked in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import apsara_env

PROBE = """
import atexit, json, sys
out = sys.argv[1]
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
sys.argv = ["apsara", *sys.argv[2:]]
from apsara_tui.cli import main
main()
"""


def _loaded(tmp_path: Path, env: dict[str, str], *args: str) -> set[str]:
    out = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(out), *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(out.read_text()))


def _tops(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules} | {m for m in modules if m.startswith("google.")}


def test_help_imports_no_driver_settings_jwt_or_sdk(tmp_path: Path, mongo_uri: str) -> None:
    loaded = _tops(_loaded(tmp_path, apsara_env(mongo_uri, tmp_path), "--help"))
    for heavy in ("pymongo", "pydantic_settings", "jwt", "google.genai", "textual", "pydantic"):
        assert heavy not in loaded, heavy


def test_a_database_command_imports_no_ai_sdk(tmp_path: Path, mongo_uri: str) -> None:
    loaded = _tops(_loaded(tmp_path, apsara_env(mongo_uri, tmp_path), "user", "list", "--json"))
    assert "pymongo" in loaded  # it did reach the database
    for heavy in ("google.genai", "openai", "anthropic", "textual", "boto3", "jwt", "cryptography"):
        assert heavy not in loaded, heavy
