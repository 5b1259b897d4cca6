"""`apsara serve --workers 2 --log-format json`: two processes share the request counter,
every request leaves one JSON access-log line (no secrets) and echoes X-Request-ID."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx

from apsara_core.db.embedded import free_port


def test_two_workers_share_counters_and_log_json_lines(cli, tmp_path) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "apsara_tui",
                "serve",
                "--port",
                str(port),
                "--workers",
                "2",
                "--log-format",
                "json",
            ],
            env={**cli.env, "RATE_LIMIT_MAX_REQUESTS": "1000"},
            cwd=tmp_path,
            stderr=err,
            text=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(f"{base}/api/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        remaining: list[int] = []
        pids: set[int] = set()
        for i in range(40):  # a new connection each time: uvicorn's workers share the socket
            resp = httpx.get(
                f"{base}/api/users/me",
                headers={"Authorization": "Bearer secret-token-value", "X-Request-ID": f"r-{i}"},
                timeout=10,
            )
            assert resp.status_code == 401 and resp.headers["x-request-id"] == f"r-{i}"
            remaining.append(int(resp.headers["x-ratelimit-remaining"]))
        assert remaining == sorted(remaining, reverse=True) and len(set(remaining)) == 40
        time.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(20)
    lines = [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]
    mine = [x for x in lines if str(x.get("requestId", "")).startswith("r-")]
    assert len(mine) == 40
    assert {x["status"] for x in mine} == {401} and all(x["path"] == "/api/users/me" for x in mine)
    assert all({"method", "durationMs", "actorId"} <= set(x) for x in mine)
    assert "secret-token-value" not in log.read_text()
    pids.update(x["pid"] for x in mine)
    assert len(pids) == 2  # both workers answered, and counted on one counter
