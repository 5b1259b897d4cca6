"""The embedded server: started on demand, shared between processes, restarted after a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from apsara_core.config import Settings
from apsara_core.core import open_core
from apsara_core.db.embedded import EmbeddedServer, ServerState, spawn, wait_ready
from apsara_core.errors import DatabaseUnavailableError


@pytest.fixture
def server(tmp_path: Path):
    srv = EmbeddedServer(tmp_path / "data")
    yield srv
    srv.stop()


def _wait_dead(pid: int) -> None:
    for _ in range(100):
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        if (
            not Path(f"/proc/{pid}/cmdline").exists()
            or not Path(f"/proc/{pid}/cmdline").read_bytes()
        ):
            return
        time.sleep(0.05)


def test_start_status_reuse_and_stop(server: EmbeddedServer) -> None:
    assert server.status() is None
    state = server.ensure_running()
    recorded = json.loads(server.state_path.read_text())
    assert recorded["pid"] == state.pid and recorded["port"] == state.port
    assert server.ensure_running() == state  # reused, not started twice
    assert server.status() == state
    assert server.stop() is True
    assert server.status() is None and not server.state_path.exists()
    assert server.stop() is False


async def test_data_survives_a_kill_and_the_server_comes_back(
    server: EmbeddedServer, tmp_path: Path
) -> None:
    settings = Settings(_env_file=None, data_dir=server.data_dir, jwt_secret="k" * 40)
    core = await open_core(settings)
    assert core.target.embedded
    await core.db.users.insert_one({"email": "kept@example.com"})
    first = server.status()
    await core.close()
    assert first is not None
    os.kill(first.pid, signal.SIGKILL)
    _wait_dead(first.pid)
    assert server.status() is None
    core = await open_core(settings)  # starts a new server on the same data
    try:
        second = server.status()
        assert second is not None and second.pid != first.pid
        assert await core.db.users.find_one({"email": "kept@example.com"}) is not None
    finally:
        await core.close()


@pytest.mark.skipif(sys.platform != "linux", reason="reads the command line from /proc")
def test_sync_on_commit_starts_the_server_with_the_flag_and_a_reuse_keeps_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    synced = EmbeddedServer(tmp_path / "data", sync_on_commit=True)
    try:
        state = synced.ensure_running()
        assert b"--sync-on-commit" in Path(f"/proc/{state.pid}/cmdline").read_bytes()
        assert json.loads(synced.state_path.read_text())["sync_on_commit"] is True
        plain = EmbeddedServer(tmp_path / "data", sync_on_commit=False)
        assert plain.ensure_running() == state  # the running server is shared as it is
        assert "runs with --sync-on-commit" in caplog.text and "db stop" in caplog.text
    finally:
        synced.stop()


@contextmanager
def _started_from_settings(tmp_path: Path) -> Iterator[ServerState]:
    """The embedded server that this environment's settings start on `tmp_path`, stopped after."""
    from apsara_core.db.client import resolve_target

    settings = Settings(_env_file=None, data_dir=tmp_path / "data", jwt_secret="k" * 40)
    resolve_target(settings)
    server = EmbeddedServer(tmp_path / "data")
    try:
        state = server.status()
        assert state is not None
        yield state
    finally:
        server.stop()


@pytest.mark.skipif(sys.platform != "linux", reason="reads the command line from /proc")
def test_settings_choose_how_the_embedded_server_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Settings(_env_file=None).embedded_sync_on_commit is True  # the default
    monkeypatch.setenv("APSARA_EMBEDDED_SYNC_ON_COMMIT", "false")
    with _started_from_settings(tmp_path) as state:
        assert state.sync_on_commit is False
        assert b"--sync-on-commit" not in Path(f"/proc/{state.pid}/cmdline").read_bytes()


def test_a_crashing_server_gives_its_reason(server: EmbeddedServer, tmp_path: Path) -> None:
    # A second server on a data dir whose storage is already locked exits at once.
    server.storage.mkdir(parents=True)
    holder = spawn(str(server.storage), 0 or _port(), tmp_path / "holder.log", detach=False)
    try:
        wait_ready(holder, holder_port := int(holder.args[4]), tmp_path / "holder.log")
        assert holder_port
        with pytest.raises(DatabaseUnavailableError, match="exited at start"):
            server.ensure_running()
    finally:
        holder.terminate()
        holder.wait(10)


def _port() -> int:
    from apsara_core.db.embedded import free_port

    return free_port()


CHILD = textwrap.dedent("""
    import asyncio, sys
    from apsara_core.config import Settings
    from apsara_core.core import open_core

    async def main():
        core = await open_core(Settings(_env_file=None, data_dir=sys.argv[1], jwt_secret="k" * 40))
        print(core.target.label, flush=True)
        sys.stdin.readline()
        await core.db.audit.insert_one({"action": "still-alive"})
        print(await core.db.audit.count_documents({"action": "still-alive"}), flush=True)
        await core.close()

    asyncio.run(main())
""")


def test_two_processes_share_one_server_and_survive_each_other(server: EmbeddedServer) -> None:
    def start() -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-c", CHILD, str(server.data_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    first, second = start(), start()
    try:
        label_a = first.stdout.readline().strip()  # type: ignore[union-attr]
        label_b = second.stdout.readline().strip()  # type: ignore[union-attr]
        assert label_a == label_b and label_a.startswith("embedded 127.0.0.1:")
        first.kill()
        first.wait(10)
        out, _ = second.communicate("go\n", timeout=30)
        assert out.strip() == "1"
        assert second.returncode == 0
    finally:
        for proc in (first, second):
            if proc.poll() is None:
                proc.kill()


def test_missing_server_program_is_explained(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DatabaseUnavailableError, match="'secantusd-py' is not installed") as info:
        EmbeddedServer(tmp_path / "data").ensure_running()
    assert any("MONGODB_URI" in s for s in info.value.suggestions)


@pytest.mark.skipif(sys.platform != "linux", reason="parent-death signal is Linux-only")
def test_a_throwaway_server_dies_with_the_process_that_started_it(tmp_path: Path) -> None:
    """Test and benchmark servers (detach=False) must not outlive a killed run."""
    code = textwrap.dedent("""
        import sys, time
        from pathlib import Path
        from apsara_core.db.embedded import free_port, spawn, wait_ready
        port, log = free_port(), Path(sys.argv[1]) / "s.log"
        proc = spawn(":memory:", port, log, detach=False)
        wait_ready(proc, port, log)
        print(proc.pid, flush=True)
        time.sleep(60)
    """)
    parent = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return  # gone and reaped
        if state == "Z":
            return  # killed; not reaped by init here
        time.sleep(0.05)
    os.kill(child, signal.SIGKILL)
    pytest.fail("the server outlived its parent")


async def test_retryable_writes_are_off_on_the_embedded_server(core, settings: Settings) -> None:
    """Reached through MONGODB_URI (as here) or started by us: the server is recognised by
    its buildInfo, and the client does not use retryable writes on it (they slow it down)."""
    assert core.client.options.retry_writes is False
    await core.db.probe.insert_one({"x": 1})  # writes still work, with write concern majority
    assert core.client.write_concern.document == {"w": "majority", "j": True}


def test_retry_writes_stay_on_for_a_real_mongodb_unless_the_uri_says_no() -> None:
    from apsara_core.db.client import _uri_allows_retries, is_embedded_server

    assert is_embedded_server({"version": "8.2.11", "secantusVersion": "0.7.0b3"})
    assert not is_embedded_server({"version": "8.0.4"})
    assert _uri_allows_retries("mongodb://db1:27017/apsara?replicaSet=rs0")
    assert not _uri_allows_retries("mongodb://db1:27017/apsara?retryWrites=false")


@pytest.mark.skipif(sys.platform != "linux", reason="reads the command line from /proc")
def test_the_cache_size_setting_bounds_the_started_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from apsara_core.errors import ConfigError

    assert Settings(_env_file=None).embedded_cache_size == "1G"  # the server's own default
    for bad in ("", "lots", "0M", "12", "1T", "-1G"):
        monkeypatch.setenv("APSARA_EMBEDDED_CACHE_SIZE", bad)
        with pytest.raises(ConfigError, match="APSARA_EMBEDDED_CACHE_SIZE: expected a size") as e:
            Settings.load(_env_file=None)
        assert repr(bad) in e.value.message and "[MG]" not in e.value.message  # words, no regex
    monkeypatch.setenv("APSARA_EMBEDDED_CACHE_SIZE", "256M")
    with _started_from_settings(tmp_path) as state:
        assert state.cache_size == "256M"
        args = Path(f"/proc/{state.pid}/cmdline").read_bytes().split(b"\0")
        assert args[args.index(b"--cache-size") + 1] == b"256M"
