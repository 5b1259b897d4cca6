"""Login and token verification against their bare baselines, at bcrypt cost 12.

- login p50 vs a bare `bcrypt.checkpw` of the same password hash (goal <= 1.2x);
- unknown-email vs wrong-password login p50 (the dummy hash keeps them alike);
- verify_token: the JWT decode and checks alone (goal < 0.1 ms), and the full verification
  with its database reads, next to a bare `find_one` by `_id` on the same server.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import bcrypt

from tests.benchmarks.report import Result

PASSWORD = "correct horse battery staple"
LOGIN_RUNS = 15
ENUM_RUNS = 10
VERIFY_RUNS = 2000
DB_RUNS = 300


def _p50(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


async def _timed(make, runs: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        try:
            await make()
        except Exception:  # the failing-login series fails on purpose
            pass
        out.append(time.perf_counter() - t0)
    return out


async def _measure(uri: str, data_dir: Path) -> list[Result]:
    from apsara_core.config import Settings
    from apsara_core.core import open_core
    from apsara_core.models import Principal

    settings = Settings(
        _env_file=None,
        mongodb_uri=uri,
        data_dir=data_dir,
        bcrypt_rounds=12,
        jwt_secret="bench-secret-" + "b" * 40,
    )
    core = await open_core(settings)
    try:
        user = await core.users.create(
            actor=Principal.operator(),
            email="bench@example.com",
            full_name="Bench",
            password=PASSWORD,
            verified=True,
        )
        stored = await core.db.users.find_one({"_id": user["_id"]})
        prehashed = core.passwords.hasher.prehash(PASSWORD)
        bare, login = [], []
        for _ in range(LOGIN_RUNS):  # interleaved so both see the same machine load
            bare += await _timed(
                lambda: asyncio.to_thread(bcrypt.checkpw, prehashed, stored["password"].encode()), 1
            )
            login += await _timed(
                lambda: core.auth.login(email="bench@example.com", password=PASSWORD), 1
            )
        wrong, unknown = [], []
        for _ in range(ENUM_RUNS):  # interleaved; the account locks on the way, as it would
            wrong += await _timed(
                lambda: core.auth.login(email="bench@example.com", password="not the password"), 1
            )
            unknown += await _timed(
                lambda: core.auth.login(email="ghost@example.com", password="not the password"), 1
            )
        await core.users.unlock(actor=Principal.operator(), user="bench@example.com")
        token = (await core.auth.login(email="bench@example.com", password=PASSWORD)).token
        signer = core.auth._signer
        decode = []
        for _ in range(VERIFY_RUNS):
            t0 = time.perf_counter()
            signer.decode(token)
            decode.append(time.perf_counter() - t0)
        full = await _timed(lambda: core.auth.verify_token(token), DB_RUNS)
        find = await _timed(lambda: core.db.users.find_one({"_id": user["_id"]}), DB_RUNS)
    finally:
        await core.client.drop_database(core.db.name)
        await core.close()
    b, lg = _p50(bare), _p50(login)
    return [
        Result("auth: bare bcrypt.checkpw cost 12 (in a thread), p50", b, "ms"),
        Result("auth: login (email+password, cost 12), p50", lg, "ms", ratio=lg / b, goal=1.2),
        Result("auth: login wrong password, p50", _p50(wrong), "ms"),
        Result(
            f"auth: login unknown email, p50 ({_p50(unknown) / _p50(wrong):.2f}x wrong pw)",
            _p50(unknown),
            "ms",
        ),
        Result(
            "auth: verify_token JWT decode+checks, no DB (goal 0.1 ms), p50",
            _p50(decode),
            "ms",
            ratio=_p50(decode) / 0.1,
            goal=1.0,
        ),
        Result("auth: bare find_one by _id, p50", _p50(find), "ms"),
        Result(
            f"auth: verify_token with DB reads, p50 ({_p50(full) / _p50(find):.2f}x find_one)",
            _p50(full),
            "ms",
        ),
    ]


def run() -> list[Result]:
    """Start a throw-away embedded server, measure, stop it."""
    from apsara_core.db.embedded import free_port, spawn, wait_ready

    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "server.log"
        port = free_port()
        proc = spawn(":memory:", port, log, detach=False)
        try:
            wait_ready(proc, port, log)
            return asyncio.run(
                _measure(f"mongodb://127.0.0.1:{port}/bench_auth", Path(tmp) / "data")
            )
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
