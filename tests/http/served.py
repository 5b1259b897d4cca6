"""A real `apsara serve` subprocess for tests that need real connections (keep-alive, sizes,
server memory): started on a free port, waited for, stopped afterwards."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from apsara_core.db.embedded import free_port


@dataclass
class Served:
    """A running `apsara serve`: its base URL, process and stderr log."""

    url: str
    proc: subprocess.Popen[str]
    log: Path

    def peak_rss(self) -> int:
        """The server's peak resident memory so far (VmHWM), in bytes."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmHWM in /proc status")


@contextmanager
def serve(env: dict[str, str], cwd: Path) -> Iterator[Served]:
    """Run `apsara serve` with `env` until the block ends (its stderr goes to cwd/serve.log)."""
    port = free_port()
    log = cwd / "serve.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "apsara_tui", "serve", "--port", str(port)],
            env=env,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=err,
            text=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if proc.poll() is not None:
                raise RuntimeError(f"apsara serve exited: {log.read_text()}")
            try:
                httpx.get(f"{url}/api/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield Served(url, proc, log)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
