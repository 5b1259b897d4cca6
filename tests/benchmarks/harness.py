"""One Core on a throwaway embedded server with the fake Gemini, for benchmarks that drive the
app or the core in-process."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from apsara_core.config import Settings
from apsara_core.core import Core, open_core
from apsara_core.db.embedded import free_port, spawn, wait_ready
from tests.fakes.gemini_process import fake_gemini_process
from tests.fakes.gemini_server import FakeGemini
from tests.tui.chat_fixtures import use_fake

T = TypeVar("T")


def with_fake_core(database: str, measure: Callable[[Core, FakeGemini], Awaitable[T]]) -> T:
    """Start an in-memory embedded server and the fake, open a Core on them (dropped and closed
    afterwards) and return what `measure(core, fake)` returns."""

    async def in_process(core: Core) -> T:
        with FakeGemini() as fake:
            return await measure(use_fake(core, fake), fake)

    return _with_core(database, in_process)


def with_remote_fake_core(
    database: str, headers: dict[str, str], measure: Callable[[Core], Awaitable[T]]
) -> T:
    """As `with_fake_core`, with the fake in a process of its own (adding `headers` to every
    request): like the remote API it stands for, its pace does not depend on how busy the
    measured process is (in-process, the fake's thread waits for the interpreter lock)."""

    async def remote(core: Core) -> T:
        with fake_gemini_process(headers) as url:
            return await measure(use_fake(core, url))

    return _with_core(database, remote)


def _with_core(database: str, measure: Callable[[Core], Awaitable[T]]) -> T:
    with tempfile.TemporaryDirectory() as tmp:
        port, log = free_port(), Path(tmp) / "server.log"
        proc = spawn(":memory:", port, log, detach=False)
        try:
            wait_ready(proc, port, log)
            return asyncio.run(_open_and_measure(port, Path(tmp), database, measure))
        finally:
            proc.terminate()
            proc.wait(10)


async def _open_and_measure(
    port: int, tmp: Path, database: str, measure: Callable[[Core], Awaitable[T]]
) -> T:
    settings = Settings(
        _env_file=None,
        mongodb_uri=f"mongodb://127.0.0.1:{port}/{database}",
        data_dir=tmp / "data",
        upload_dir=tmp / "uploads",
        jwt_secret="b" * 40,
        env="test",
        bcrypt_rounds=4,
    )
    core = await open_core(settings)
    try:
        return await measure(core)
    finally:
        await core.client.drop_database(core.db.name)
        await core.close()
