"""The fake Gemini in a process of its own, for benchmarks that time the caller: like the remote
API it stands for, it then does not share the caller's interpreter lock."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.fakes.gemini_server import FakeGemini


@contextmanager
def fake_gemini_process(headers: dict[str, str] | None = None) -> Iterator[str]:
    """Run the fake in a process of its own (like a remote API: it does not share the caller's
    interpreter lock); yields its base URL. Used by benchmarks that time the caller. `headers`
    are added to every request it gets (as `FakeGemini.headers`, e.g. x-fake-chunks)."""
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.gemini_process", json.dumps(headers or {})],
        cwd=root,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http://"):
            raise RuntimeError("the fake Gemini process did not start")
        yield url
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":  # `python -m tests.fakes.gemini_process`: serve until stdin closes
    with FakeGemini() as _fake:
        _fake.headers.update(json.loads(sys.argv[1]) if len(sys.argv) > 1 else {})
        print(_fake.base_url, flush=True)
        sys.stdin.read()
