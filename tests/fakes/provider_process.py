"""The fake OpenAI and Anthropic servers in a process of their own, for benchmarks that time
the caller (like the remote APIs they stand for, they then do not share its interpreter lock)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.openai_server import FakeOpenAI


@contextmanager
def fake_providers_process() -> Iterator[tuple[str, str]]:
    """Yields (OpenAI base URL, Anthropic base URL) of fakes running in a child process."""
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.provider_process"],
        cwd=root,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        urls = proc.stdout.readline().split()
        if len(urls) != 2:
            raise RuntimeError("the fake providers process did not start")
        yield urls[0], urls[1]
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":  # serve until stdin closes
    with FakeOpenAI() as _oai, FakeAnthropic() as _ant:
        print(_oai.base_url, _ant.base_url, flush=True)
        sys.stdin.read()
