"""Shared fixtures: one embedded server per run, a fresh database per test."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import traceback
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from apsara_core.config import Settings
from apsara_core.core import Core, open_core
from apsara_core.db.embedded import free_port, spawn, wait_ready

# The machine's own configuration must not leak into tests.
for _name in (
    "MONGODB_URI",
    "JWT_SECRET",
    "JWT_PREVIOUS_SECRETS",
    "PASSWORD_PEPPER",
    "FORWARDED_ALLOW_IPS",
    "JWT_EXPIRES_IN",
    "GOOGLE_AI_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_GEMINI_BASE_URL",
    "EMAIL_SMTP_URL",
    "EMAIL_FROM",
    "GOOGLE_CLIENT_ID",
    "GOOGLE_CLIENT_SECRET",
    "GOOGLE_JWKS_URL",
    "APSARA_DATA_DIR",
    "APSARA_UPLOAD_DIR",
    "APSARA_ENV",
    "NODE_ENV",
    "PORT",
    "S3_ENDPOINT_URL",
    "S3_BUCKET",
    "S3_PREFIX",
    "RATE_LIMIT_WINDOW_MS",
    "RATE_LIMIT_MAX_REQUESTS",
    "APSARA_BCRYPT_ROUNDS",
    "APSARA_EMBEDDED_SYNC_ON_COMMIT",
):
    os.environ.pop(_name, None)
for _name in [n for n in os.environ if n.startswith(("APSARA_", "AWS_"))]:
    os.environ.pop(_name, None)

# Fixtures shared across directories (the fake Gemini, Google, S3, the chat app), loaded for
# every test instead of imported into each module.
pytest_plugins = [
    "tests.fakes.fixtures",
    "tests.fakes.provider_fixtures",
    "tests.fakes.s3",
    "tests.tui.chat_fixtures",
    "tests.plugin_fixtures",
]

TEST_SECRET = "test-secret-" + "x" * 40


@pytest.fixture(scope="session")
def mongo_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """One in-memory embedded server for the whole run."""
    log = tmp_path_factory.mktemp("mongo") / "server.log"
    port = free_port()
    proc = spawn(":memory:", port, log, detach=False)
    wait_ready(proc, port, log)
    yield port
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def mongo_uri(mongo_port: int) -> str:
    """A URI with a database of its own for this test."""
    return f"mongodb://127.0.0.1:{mongo_port}/t_{uuid4().hex[:16]}"


@pytest.fixture
def settings(tmp_path: Path, mongo_uri: str) -> Settings:
    """Settings pointing at this test's database and temp dirs; no .env read."""
    return Settings(
        _env_file=None,
        mongodb_uri=mongo_uri,
        data_dir=tmp_path / "data",
        upload_dir=tmp_path / "uploads",
        jwt_secret=TEST_SECRET,
        env="test",
        bcrypt_rounds=4,
    )


@asynccontextmanager
async def opened_core(settings: Settings, *, drop: bool = True) -> AsyncIterator[Core]:
    """An open Core on `settings`, closed afterwards; its database is dropped then, unless
    `drop` is False (a second Core on a test's database, as another process holds)."""
    opened = await open_core(settings)
    try:
        yield opened
    finally:
        await opened.settle()  # deferred jobs (a lock mail) write before the drop, not after
        if drop:
            await opened.client.drop_database(opened.db.name)
        await opened.close()


@pytest.fixture
async def core(settings: Settings) -> AsyncIterator[Core]:
    """An open Core on a fresh database, dropped afterwards."""
    async with opened_core(settings) as opened:
        yield opened


def cli_env(**overrides: str) -> dict[str, str]:
    """The environment for an `apsara` subprocess: this one, plus overrides."""
    env = {k: v for k, v in os.environ.items()}
    env.update(overrides)
    return env


def run_cli(
    *args: str, env: dict[str, str], cwd: Path, timeout: float = 60, input_text: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `apsara ARGS` as a user would, in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "apsara_tui", *args],
        env=env,
        cwd=cwd,
        text=True,
        capture_output=True,
        timeout=timeout,
        input=input_text,
    )


def invoke_cli(
    *args: str, env: dict[str, str], cwd: Path, input_text: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `apsara ARGS` in this process with Typer's CliRunner, as `run_cli` would in a
    subprocess (same environment, working directory, stdin; a CompletedProcess back).

    It runs in a thread of its own, since commands call `asyncio.run` and an async test's
    loop is running in this one; the test waits for it.
    """
    from typer.testing import CliRunner

    from apsara_tui.cli import build_app

    outcome: dict[str, Any] = {}

    def work() -> None:
        before = os.getcwd()
        os.chdir(cwd)
        try:
            result = CliRunner().invoke(
                build_app(), list(args), input=input_text, env=env, catch_exceptions=True
            )
        finally:
            os.chdir(before)
        stderr = result.stderr
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            stderr += "".join(traceback.format_exception(result.exception))
        outcome["done"] = subprocess.CompletedProcess(
            ["apsara", *args], result.exit_code, result.stdout, stderr
        )

    thread = threading.Thread(target=work, name="apsara-cli")
    thread.start()
    thread.join()
    return outcome["done"]


def apsara_env(mongo_uri: str, root: Path, **overrides: str) -> dict[str, str]:
    """The environment of an `apsara` subprocess on `mongo_uri`, with its dirs under `root`."""
    return cli_env(
        MONGODB_URI=mongo_uri,
        APSARA_DATA_DIR=str(root / "data"),
        JWT_SECRET=TEST_SECRET,
        APSARA_UPLOAD_DIR=str(root / "uploads"),
        APSARA_BCRYPT_ROUNDS="4",
        **overrides,
    )


@pytest.fixture
def cli(tmp_path: Path, mongo_uri: str):
    """Call `apsara` in-process against this test's database: cli("db", "info", "--json").

    `cli.subprocess(...)` runs the real command in a subprocess instead (smoke tests).
    """
    env = apsara_env(mongo_uri, tmp_path)

    def call(*args: str, input_text: str | None = None, **extra_env: str):
        return invoke_cli(*args, env={**env, **extra_env}, cwd=tmp_path, input_text=input_text)

    def in_subprocess(*args: str, input_text: str | None = None, **extra_env: str):
        return run_cli(*args, env={**env, **extra_env}, cwd=tmp_path, input_text=input_text)

    call.env = env  # type: ignore[attr-defined]
    call.subprocess = in_subprocess  # type: ignore[attr-defined]
    return call
