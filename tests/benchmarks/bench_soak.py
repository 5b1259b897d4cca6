"""Soak: 16 concurrent HTTP clients sending messages to `apsara serve` on the embedded server
(issue 16 item 6).

    .venv/bin/python -m tests.benchmarks.bench_soak [--minutes 10]

APSARA_BENCH_SOAK_S sets the duration under `make bench` (default 60 s; the issue's figure is
600 s, `--minutes 10`). Each client starts a new conversation every APSARA_BENCH_SOAK_TURNS
sends (default 10), so every send does the same work all run: in one endless conversation
the history read and sent with each call grows to 200 messages, and the run measured that
(4 minutes: 0.72x last/first) rather than the servers. The run is cut into windows (a minute each from 5 minutes on, else
fifths); per window it prints throughput, p50, p99, answered sends per CPU-second of the two
servers (`apsara serve` + the embedded server: steadier than wall time on a shared machine)
and both RSS. Reported: the last window's throughput vs the first (goal >= 0.9x, printed as
first/last <= 1.11x), the same per CPU-second, p99 of both, the RSS and the embedded server's
RSS growth per 100,000 stored messages. Then the clients stop and the run waits for the
upkeep to restart the idle embedded server (db/recycle.py: RECYCLE_RSS and RECYCLE_IDLE_S
here, never during the load: it is never write-idle), and reports its RSS after the restart,
how long after the load it came, and that a send is answered after it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.benchmarks.report import Result

CLIENTS = 16
TURNS = int(os.environ.get("APSARA_BENCH_SOAK_TURNS", "10"))  # sends per conversation
SECONDS = float(os.environ.get("APSARA_BENCH_SOAK_S", "60"))
PASSWORD = "Soak-pass-12345"
ROOT = Path(__file__).resolve().parents[2]  # the code under test, whatever the venv points at
TICK = os.sysconf("SC_CLK_TCK")
RECYCLE_RSS, RECYCLE_IDLE_S = "80M", 20  # a new server is under it, a minute of load over it
RECYCLE_WAIT_S = 180.0  # two upkeep rounds (a minute each) and the idle time, with margin


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds the process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


@dataclass
class Sample:
    """The two servers' counters at one instant of the run."""

    at: float
    serve_cpu_s: float
    db_cpu_s: float
    serve_rss: int
    db_rss: int


def _sampler(
    pids: tuple[int, int], start: float, every: float, stop: threading.Event, out: list[Sample]
) -> None:
    def take() -> None:
        out.append(
            Sample(
                time.monotonic() - start,
                _cpu_s(pids[0]),
                _cpu_s(pids[1]),
                _rss(pids[0]),
                _rss(pids[1]),
            )
        )

    take()
    while not stop.wait(every - (time.monotonic() - start) % every):
        take()
    take()


def _client(url: str, token: str, stop: float, out: list[tuple[float, float]]) -> None:
    """Send until `stop`, in a new conversation every TURNS sends: each send's work is then
    the same all run (a conversation's history, read and sent with every call, grows up to
    APSARA_HISTORY_MAX_MESSAGES, 200), so a slowdown is the servers' own."""
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=auth, timeout=60) as http:
        sent = 0
        while time.monotonic() < stop:
            if sent % TURNS == 0:
                made = http.post("/api/conversations", json={"title": "soak"})
                cid = made.json()["conversationId"]
            sent += 1
            t0 = time.monotonic()
            resp = http.post("/api/ai/generate", json={"conversationId": cid, "contents": "hi"})
            if resp.status_code == 200:
                out.append((t0, time.monotonic() - t0))


def _send_once(url: str, token: str) -> str:
    """One send in a new conversation: "answered", or the HTTP status and error it got."""
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=auth, timeout=60) as http:
        made = http.post("/api/conversations", json={"title": "after restart"})
        if made.status_code not in (200, 201):
            return f"conversation {made.status_code} {made.text[:120]}"
        cid = made.json()["conversationId"]
        resp = http.post("/api/ai/generate", json={"conversationId": cid, "contents": "hi"})
        return "answered" if resp.status_code == 200 else f"{resp.status_code} {resp.text[:120]}"


def _setup(url: str) -> str:
    with httpx.Client(base_url=url, timeout=60) as http:
        return str(
            http.post(
                "/api/users/login", json={"email": "soak@example.com", "password": PASSWORD}
            ).json()["token"]
        )


@dataclass
class Window:
    """One window of the run: answered sends, their latencies, the servers' CPU and RSS."""

    start: float
    length: float
    latencies: list[float]
    serve_cpu_s: float
    db_cpu_s: float
    serve_rss: int
    db_rss: int

    @property
    def rate(self) -> float:
        """Answered sends per second."""
        return len(self.latencies) / self.length

    @property
    def per_cpu_s(self) -> float:
        """Answered sends per CPU-second of the two servers."""
        return len(self.latencies) / max(self.serve_cpu_s + self.db_cpu_s, 1e-9)

    def pct(self, q: float) -> float:
        """The q-quantile latency, ms."""
        got = sorted(self.latencies)
        return got[min(int(len(got) * q), len(got) - 1)] * 1000 if got else 0.0


def _windows(
    seconds: float, sends: list[tuple[float, float]], samples: list[Sample]
) -> list[Window]:
    length = 60.0 if seconds >= 300 else seconds / 5
    out = []
    for k in range(max(int(round(seconds / length)), 1)):
        lo, hi = k * length, (k + 1) * length
        inside = [s for s in samples if lo - 1 <= s.at <= hi + 1]
        first = min(inside, key=lambda s: abs(s.at - lo))
        last = min(inside, key=lambda s: abs(s.at - hi))
        out.append(
            Window(
                lo,
                length,
                [d for t, d in sends if lo <= t < hi],
                last.serve_cpu_s - first.serve_cpu_s,
                last.db_cpu_s - first.db_cpu_s,
                last.serve_rss,
                last.db_rss,
            )
        )
    return out


def table(windows: list[Window]) -> list[str]:
    """The per-window table, printable."""
    lines = [
        f"{'from':>6} {'sends/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'/CPU-s':>7}"
        f" {'serve ms/send':>13} {'db ms/send':>10} {'serve MiB':>9} {'db MiB':>7}"
    ]
    for w in windows:
        n = max(len(w.latencies), 1)
        lines.append(
            f"{int(w.start):>4} s {w.rate:>8.1f} {w.pct(0.5):>7.0f} {w.pct(0.99):>7.0f}"
            f" {w.per_cpu_s:>7.2f} {w.serve_cpu_s * 1000 / n:>13.1f} {w.db_cpu_s * 1000 / n:>10.1f}"
            f" {w.serve_rss / 2**20:>9.0f} {w.db_rss / 2**20:>7.0f}"
        )
    return lines


def _prepare(env: dict[str, str], tmp: str) -> None:
    import subprocess

    apsara = [sys.executable, "-m", "apsara_tui"]
    for args in (
        ["user", "create", "--email", "soak@example.com", "--name", "Soak"],
        ["plan", "set", "premium", "--model", "gemini-2.5-flash", "--daily", "100000000"],
    ):
        if args[0] == "user":
            args += ["--password", PASSWORD, "--plan", "premium", "--verified"]
        subprocess.run([*apsara, *args], env=env, cwd=tmp, check=True, capture_output=True)


def soak(seconds: float) -> tuple[list[Window], list[Result]]:
    """Drive `apsara serve` for `seconds` with CLIENTS threads: its windows and results."""
    from apsara_core.db.embedded import EmbeddedServer
    from tests.fakes.gemini_process import fake_gemini_process
    from tests.http.served import serve

    with tempfile.TemporaryDirectory() as tmp, fake_gemini_process() as base_url:
        root = Path(tmp)
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "APSARA_DATA_DIR": str(root / "data"),
            "JWT_SECRET": "b" * 40,
            "GOOGLE_AI_API_KEY": "fake-gemini-key",
            "GOOGLE_GEMINI_BASE_URL": base_url,
            "RATE_LIMIT_MAX_REQUESTS": "100000000",
            "APSARA_BCRYPT_ROUNDS": "4",
            "APSARA_EMBEDDED_RECYCLE_RSS": RECYCLE_RSS,
            "APSARA_EMBEDDED_RECYCLE_IDLE_S": str(RECYCLE_IDLE_S),
        }
        env.pop("MONGODB_URI", None)
        _prepare(env, tmp)
        try:
            with serve(env, root) as served:
                token = _setup(served.url)
                state = EmbeddedServer(root / "data").status()
                assert state is not None, "apsara serve started no embedded server"
                pids = (served.proc.pid, state.pid)
                db_rss_start = _rss(pids[1])
                sends: list[tuple[float, float]] = []
                samples: list[Sample] = []
                start = time.monotonic()
                stop = start + seconds
                done = threading.Event()
                every = 60.0 if seconds >= 300 else seconds / 5
                sampler = threading.Thread(
                    target=_sampler, args=(pids, start, every, done, samples)
                )
                sampler.start()
                threads = [
                    threading.Thread(target=_client, args=(served.url, token, stop, sends))
                    for _ in range(CLIENTS)
                ]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                done.set()
                sampler.join()
                recycled = _await_recycle(root / "data", pids[1], served.url, token)
        finally:  # the app's embedded server outlives `apsara serve`: stop it with the run
            EmbeddedServer(root / "data").stop()
    rel = [(t - start, d) for t, d in sends]
    windows = _windows(seconds, rel, samples)
    first, last = windows[0], windows[-1]
    messages = 2 * len(sends)  # each answered send stores the user's message and the reply
    db_rss = samples[-1].db_rss
    results = [
        Result(f"soak: {CLIENTS} clients x {seconds:.0f} s, answered sends", len(sends), "n"),
        Result("soak: throughput, first window", first.rate, "/s"),
        Result(
            "soak: throughput, last window (ratio first/last, goal last >= 0.9x first)",
            last.rate,
            "/s",
            ratio=first.rate / max(last.rate, 1e-9),
            goal=1.11,
        ),
        Result(
            "soak: sends per server CPU-second, last window "
            f"({first.per_cpu_s:.2f} first: {last.per_cpu_s / max(first.per_cpu_s, 1e-9):.2f}x)",
            last.per_cpu_s,
            "/s",
        ),
        Result("soak: p99 latency, first window", first.pct(0.99), "ms"),
        Result(
            f"soak: p99 latency, last window ({last.pct(0.99) / max(first.pct(0.99), 1e-9):.2f}x)",
            last.pct(0.99),
            "ms",
        ),
        Result(
            f"soak: median latency ({statistics.median(d for _, d in sends) * 1000:.0f} ms), "
            "apsara serve RSS",
            samples[-1].serve_rss / 2**20,
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
    if recycled is None:
        results.append(
            Result(
                f"soak: idle restart of the embedded server (none in {RECYCLE_WAIT_S:.0f} s)",
                0,
                "n",
            )
        )
    else:
        after_s, rss, answered = recycled
        results.append(
            Result(
                f"soak: embedded server RSS after its idle restart ({after_s:.0f} s after the "
                f"load; a send then: {answered})",
                rss / 2**20,
                "MiB",
            )
        )
    return windows, results


def _await_recycle(data: Path, pid: int, url: str, token: str) -> tuple[float, int, str] | None:
    """Wait for the idle embedded server's restart: (seconds after the load, the new server's
    RSS, how a send fares then), or None when it did not come in RECYCLE_WAIT_S."""
    from apsara_core.db.embedded import EmbeddedServer

    began, server = time.monotonic(), EmbeddedServer(data)
    while time.monotonic() - began < RECYCLE_WAIT_S:
        state = server.status()
        if state is not None and state.pid != pid:
            after = time.monotonic() - began
            time.sleep(1)
            return after, _rss(state.pid), _send_once(url, token)
        time.sleep(1)
    return None


def run() -> list[Result]:
    """`make bench`: APSARA_BENCH_SOAK_S seconds (the per-window table printed first)."""
    windows, results = soak(SECONDS)
    print("\n".join(table(windows)), flush=True)
    return results


def main(argv: list[str]) -> int:
    """`--minutes N`: one soak of N minutes, its per-minute table and results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=SECONDS / 60)
    args = parser.parse_args(argv)
    windows, results = soak(args.minutes * 60)
    print("\n".join(table(windows)), flush=True)
    for result in results:
        print(result.line(), flush=True)
    return 1 if any(r.ok is False for r in results) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
