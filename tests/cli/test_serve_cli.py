"""`apsara serve` as an operator starts it: it answers, and a taken port is one clear line."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx

from apsara_core.db.embedded import free_port


def test_serve_answers_health_then_stops(cli, tmp_path) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "apsara_tui", "serve", "--port", str(port)],
                            env=cli.env, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    try:
        body = None
        for _ in range(100):
            try:
                body = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).json()
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert body is not None and body["status"] == "ok"
    finally:
        proc.terminate()
        proc.wait(15)


def test_port_in_use_is_one_line(cli) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = cli("serve", "--port", str(port))
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: Port {port} on 127.0.0.1 is in use")
    assert "Traceback" not in result.stderr
