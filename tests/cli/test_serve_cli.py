"""`apsara serve` as an operator starts it: it answers, a taken port is one clear line, and
X-Forwarded-For counts only from a trusted proxy (the request limiter and the guest cap)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from apsara_core.db.embedded import free_port


@contextmanager
def serving(cli, tmp_path, **env: str) -> Iterator[str]:
    """A running `apsara serve` on a free port; yields its base URL once /api/health answers."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "apsara_tui", "serve", "--port", str(port)],
        env={**cli.env, **env},
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{base}/api/health", timeout=1).json()["status"] == "ok":
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise AssertionError("apsara serve did not answer")
        yield base
    finally:
        proc.terminate()
        proc.wait(15)


def test_serve_answers_health_then_stops(cli, tmp_path) -> None:
    with serving(cli, tmp_path) as base:
        assert httpx.get(f"{base}/api/health", timeout=5).json()["status"] == "ok"


def _remaining(base: str, forwarded_for: str) -> int:
    resp = httpx.get(
        f"{base}/api/conversations", headers={"X-Forwarded-For": forwarded_for}, timeout=10
    )
    return int(resp.headers["X-RateLimit-Remaining"])


def _new_guest(base: str, key: str, forwarded_for: str) -> int:
    return httpx.post(
        f"{base}/api/users/guest-login",
        json={"clientKey": key},
        headers={"X-Forwarded-For": forwarded_for},
        timeout=10,
    ).status_code


def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(cli, tmp_path) -> None:
    with serving(cli, tmp_path) as base:  # default: no proxy trusted, not even 127.0.0.1
        first = _remaining(base, "198.51.100.1")
        assert _remaining(base, "198.51.100.2") == first - 1  # one caller: 127.0.0.1
        codes = [_new_guest(base, f"plain-{i}", f"198.51.100.{10 + i}") for i in range(4)]
        assert codes == [201, 201, 201, 429]  # one address's cap, whatever the header says
    with serving(cli, tmp_path, APSARA_TRUSTED_PROXIES="127.0.0.1") as base:
        assert _remaining(base, "203.0.113.1") == _remaining(base, "203.0.113.2")
        codes = [_new_guest(base, f"proxied-{i}", f"203.0.113.{10 + i}") for i in range(4)]
        assert codes == [201] * 4  # each forwarded client has a cap of its own
        assert [_new_guest(base, f"same-{i}", "203.0.113.50") for i in range(4)] == [201] * 3 + [
            429
        ]


def test_bad_trusted_proxies_is_one_line(cli) -> None:
    result = cli("serve", APSARA_TRUSTED_PROXIES="everyone")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error:") and "APSARA_TRUSTED_PROXIES" in result.stderr


def test_port_in_use_is_one_line(cli) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = cli("serve", "--port", str(port))
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: Port {port} on 127.0.0.1 is in use")
    assert "Traceback" not in result.stderr
