"""Soak: 16 concurrent HTTP clients sending messages to `apsara serve` on the embedded server
(issue 16 item 6).

APSARA_BENCH_SOAK_S sets the duration (default 60 s for `make bench`; the issue's figure is
600 s). Reported: throughput of the last fifth of the run vs the first fifth (the last minute
vs the first on a 10-minute run; goal >= 0.9x, printed as first/last <= 1.11x), p99 latency of
the first and last fifth, `apsara serve`'s and the embedded server's RSS, and the embedded
server's RSS per 100,000 stored messages.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx

from tests.benchmarks.report import Result

CLIENTS = 16
SECONDS = float(os.environ.get("APSARA_BENCH_SOAK_S", "60"))
PASSWORD = "Soak-pass-12345"


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _client(url: str, token: str, stop: float, out: list[tuple[float, float]]) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=auth, timeout=60) as http:
        cid = http.post("/api/conversations", json={"title": "soak"}).json()["conversationId"]
        while time.monotonic() < stop:
            t0 = time.monotonic()
            resp = http.post("/api/ai/generate", json={"conversationId": cid, "contents": "hi"})
            if resp.status_code == 200:
                out.append((t0, time.monotonic() - t0))


def _setup(url: str) -> str:
    with httpx.Client(base_url=url, timeout=60) as http:
        return str(
            http.post(
                "/api/users/login", json={"email": "soak@example.com", "password": PASSWORD}
            ).json()["token"]
        )


def run() -> list[Result]:
    """Drive the server for SECONDS with CLIENTS threads and report the drift."""
    import subprocess
    import sys

    from tests.fakes.gemini_process import fake_gemini_process
    from tests.http.served import serve

    with tempfile.TemporaryDirectory() as tmp, fake_gemini_process() as base_url:
        root = Path(tmp)
        env = {
            **os.environ,
            "APSARA_DATA_DIR": str(root / "data"),
            "JWT_SECRET": "b" * 40,
            "GOOGLE_AI_API_KEY": "fake-gemini-key",
            "GOOGLE_GEMINI_BASE_URL": base_url,
            "RATE_LIMIT_MAX_REQUESTS": "100000000",
            "APSARA_BCRYPT_ROUNDS": "4",
        }
        env.pop("MONGODB_URI", None)
        apsara = [sys.executable, "-m", "apsara_tui"]
        for args in (
            [
                "user",
                "create",
                "--email",
                "soak@example.com",
                "--name",
                "Soak",
                "--password",
                PASSWORD,
                "--plan",
                "premium",
                "--verified",
            ],
            ["plan", "set", "premium", "--model", "gemini-2.5-flash", "--daily", "100000000"],
        ):
            subprocess.run([*apsara, *args], env=env, cwd=tmp, check=True, capture_output=True)
        with serve(env, root) as served:
            token = _setup(served.url)
            state = json.loads((root / "data" / "embedded-db.json").read_text())
            db_rss_start = _rss(int(state["pid"]))
            samples: list[tuple[float, float]] = []
            start = time.monotonic()
            stop = start + SECONDS
            threads = [
                threading.Thread(target=_client, args=(served.url, token, stop, samples))
                for _ in range(CLIENTS)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            serve_rss, db_rss = _rss(served.proc.pid), _rss(int(state["pid"]))
    fifth = SECONDS / 5
    first = [d for t, d in samples if t - start < fifth]
    last = [d for t, d in samples if t - start >= SECONDS - fifth - 1]
    p99 = {
        n: sorted(v)[int(len(v) * 0.99)] * 1000 if v else 0 for n, v in (("f", first), ("l", last))
    }
    messages = 2 * len(samples)  # each answered send stores the user's message and the reply
    return [
        Result(f"soak: {CLIENTS} clients x {SECONDS:.0f} s, answered sends", len(samples), "n"),
        Result("soak: throughput, first fifth", len(first) / fifth, "/s"),
        Result(
            "soak: throughput, last fifth (ratio first/last, goal last >= 0.9x first)",
            len(last) / (fifth + 1),
            "/s",
            ratio=(len(first) / fifth) / max(len(last) / (fifth + 1), 1e-9),
            goal=1.11,
        ),
        Result("soak: p99 latency, first fifth", p99["f"], "ms"),
        Result(
            f"soak: p99 latency, last fifth ({p99['l'] / max(p99['f'], 1e-9):.2f}x the first)",
            p99["l"],
            "ms",
        ),
        Result(
            f"soak: median latency ({statistics.median(d for _, d in samples) * 1000:.0f} ms), apsara serve RSS",
            serve_rss / 2**20,
            "MiB",
        ),
        Result(
            f"soak: embedded server RSS (at start {db_rss_start / 2**20:.0f})",
            db_rss / 2**20,
            "MiB",
        ),
        Result(
            f"soak: embedded server RSS growth per 100,000 messages ({messages} stored)",
            (db_rss - db_rss_start) / 2**20 * 100_000 / max(messages, 1),
            "MiB",
        ),
    ]
