"""CLI start and answer vs bare baselines, same machine, same run (issue 16 item 3).

- `apsara --help` and `apsara user list` vs a bare Typer app with two commands (`--help`);
- `apsara ai send` vs a bare script that imports google-genai and makes the same streaming
  call against the same fake Gemini server.
The embedded server is started once before measuring. Medians of RUNS alternating runs.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.benchmarks.report import Result

RUNS = 5
BARE_TYPER = """
import typer
app = typer.Typer()
@app.command()
def one() -> None:
    "One."
@app.command()
def two() -> None:
    "Two."
app()
"""
BARE_GENAI = """
import sys
from google import genai
from google.genai import types
client = genai.Client(api_key=sys.argv[1], http_options=types.HttpOptions(base_url=sys.argv[2]))
for chunk in client.models.generate_content_stream(model="gemini-2.5-flash", contents="hello"):
    print(chunk.text or "", end="", flush=True)
print()
"""


def _time(args: list[str], env: dict[str, str], cwd: str) -> float:
    started = time.perf_counter()
    subprocess.run(args, env=env, cwd=cwd, capture_output=True, check=True, timeout=120)
    return time.perf_counter() - started


def run() -> list[Result]:
    """Median wall time of each command and its ratio to its baseline."""
    from apsara_core.db.embedded import EmbeddedServer
    from tests.fakes.fixtures import FAKE_KEY, gemini_env
    from tests.fakes.gemini_server import FakeGemini

    py, apsara = sys.executable, [sys.executable, "-m", "apsara_tui"]
    with tempfile.TemporaryDirectory() as tmp, FakeGemini() as fake:
        env = {**os.environ, "APSARA_DATA_DIR": tmp, "JWT_SECRET": "b" * 40, **gemini_env(fake)}
        env.pop("MONGODB_URI", None)
        server = EmbeddedServer(Path(tmp))
        server.ensure_running()
        try:
            subprocess.run(
                [
                    *apsara,
                    "user",
                    "create",
                    "--email",
                    "bench@example.com",
                    "--name",
                    "Bench",
                    "--password",
                    "Bench-pass-1234",
                ],
                env=env,
                cwd=tmp,
                capture_output=True,
                text=True,
                check=True,
                timeout=120,
            )
            who = ["--user", "bench@example.com"]
            made = subprocess.run(
                [*apsara, "conv", "create", *who, "--title", "bench", "--json"],
                env=env,
                cwd=tmp,
                capture_output=True,
                text=True,
                check=True,
                timeout=120,
            )
            cid = json.loads(made.stdout)["conversationId"]
            cases = {
                "bare typer --help": [py, "-c", BARE_TYPER, "--help"],
                "apsara --help": [*apsara, "--help"],
                "apsara user list": [*apsara, "user", "list", "--json"],
                "bare genai stream": [py, "-c", BARE_GENAI, FAKE_KEY, fake.base_url],
                "apsara ai send": [*apsara, "ai", "send", *who, "-c", cid, "--json", "hello"],
            }
            times: dict[str, list[float]] = {name: [] for name in cases}
            for _ in range(RUNS):
                for name, args in cases.items():
                    times[name].append(_time(args, env, tmp))
        finally:
            server.stop()
    med = {k: statistics.median(v) * 1000 for k, v in times.items()}
    bare, genai = med["bare typer --help"], med["bare genai stream"]
    return [
        Result("cli: bare two-command Typer app --help", bare, "ms"),
        Result("cli: apsara --help", med["apsara --help"], "ms", med["apsara --help"] / bare, 1.5),
        Result(
            "cli: apsara user list (embedded server running)",
            med["apsara user list"],
            "ms",
            ratio=med["apsara user list"] / bare,
            goal=2.5,
        ),
        Result("cli: bare google-genai streaming script (fake)", genai, "ms"),
        Result(
            "cli: apsara ai send (fake)",
            med["apsara ai send"],
            "ms",
            ratio=med["apsara ai send"] / genai,
            goal=1.5,
        ),
    ]
