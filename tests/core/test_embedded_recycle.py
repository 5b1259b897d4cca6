"""Recycling the embedded server: restarted on its port once over its memory bound and idle,
never while it takes writes; every client carries on (db/recycle.py)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from apsara_core.config import Settings
from apsara_core.core import open_core
from apsara_core.db.embedded import EmbeddedServer
from apsara_core.db.recycle import Recycler, size_bytes
from apsara_core.errors import ConfigError
from apsara_core.services import upkeep

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads memory from /proc")


@pytest.fixture
def server(tmp_path: Path):
    srv = EmbeddedServer(tmp_path / "data")
    srv.ensure_running()
    yield srv
    srv.stop()


def _settings(server: EmbeddedServer) -> Settings:
    return Settings(_env_file=None, data_dir=server.data_dir, jwt_secret="k" * 40)


async def test_an_idle_server_over_its_bound_is_restarted_on_its_port_and_clients_go_on(
    server: EmbeddedServer,
) -> None:
    core = await open_core(_settings(server))
    now = [0.0]
    recycler = Recycler(server, max_rss=1, idle_s=300, clock=lambda: now[0])
    try:
        first = server.status()
        assert first is not None
        await core.db.scratch.insert_one({"_id": "kept"})
        assert not await recycler.check(core.db)  # the first look only counts the writes
        now[0] += 299
        assert not await recycler.check(core.db)  # idle, but not for long enough
        await core.db.scratch.insert_one({"_id": "second"})
        now[0] += 10
        assert not await recycler.check(core.db)  # a write: the idle time starts again
        now[0] += 299
        assert not await recycler.check(core.db)
        now[0] += 2
        assert await recycler.check(core.db)
        second = server.status()
        assert second is not None and second.pid != first.pid and second.port == first.port
        # the same client, with its pooled connections to the old server, reads and writes on
        ids = [
            doc["_id"] async for doc in core.db.scratch.find({"_id": {"$in": ["kept", "second"]}})
        ]
        assert sorted(ids) == ["kept", "second"]
        await core.db.scratch.insert_one({"_id": "after"})
        assert await core.db.scratch.count_documents({"_id": "after"}) == 1
        assert server.restart(first.pid) is None  # another process restarted it already
        assert server.status() == second
    finally:
        await core.close()


async def test_a_server_under_its_bound_or_taking_writes_is_left_alone(
    server: EmbeddedServer,
) -> None:
    core = await open_core(_settings(server))
    now = [0.0]
    roomy = Recycler(server, max_rss=size_bytes("64G"), idle_s=1, clock=lambda: now[0])
    busy = Recycler(server, max_rss=1, idle_s=1, clock=lambda: now[0])
    pid = server.status().pid  # type: ignore[union-attr]
    try:
        for step in range(5):
            await core.db.scratch.insert_one({"_id": f"w{step}"})
            now[0] += 5
            assert not await roomy.check(core.db)
            assert not await busy.check(core.db)  # idle for 5 s, but never without a write
        now[0] += 5
        assert not await roomy.check(core.db)  # idle, but its memory is under the bound
        assert server.status().pid == pid  # type: ignore[union-attr]
    finally:
        await core.close()


async def test_the_upkeep_recycles_an_idle_server(server: EmbeddedServer) -> None:
    core = await open_core(_settings(server))
    pid = server.status().pid  # type: ignore[union-attr]
    recycler = Recycler(server, max_rss=1, idle_s=0.3)
    task = asyncio.create_task(
        upkeep.run(core.db, core.limits, expire=True, recycler=recycler, interval=0.1)
    )
    try:
        for _ in range(100):
            state = await asyncio.to_thread(server.status)
            if state is not None and state.pid != pid:
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("the idle server was not restarted")
        assert await core.db.scratch.find_one({"_id": "none"}) is None  # it answers again
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await core.close()


def test_the_recycling_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    defaults = Settings(_env_file=None)
    assert (defaults.embedded_recycle_rss, defaults.embedded_recycle_idle_s) == ("2G", 300.0)
    for bad in ("", "lots", "0M", "12", "1T", "Off"):
        monkeypatch.setenv("APSARA_EMBEDDED_RECYCLE_RSS", bad)
        with pytest.raises(ConfigError, match="APSARA_EMBEDDED_RECYCLE_RSS: expected a size") as e:
            Settings.load(_env_file=None)
        assert repr(bad) in e.value.message and "[MG]" not in e.value.message  # words, no regex
    monkeypatch.delenv("APSARA_EMBEDDED_RECYCLE_RSS")
    for bad in ("0", "-5", "soon"):
        monkeypatch.setenv("APSARA_EMBEDDED_RECYCLE_IDLE_S", bad)
        with pytest.raises(ConfigError, match="APSARA_EMBEDDED_RECYCLE_IDLE_S"):
            Settings.load(_env_file=None)
    monkeypatch.delenv("APSARA_EMBEDDED_RECYCLE_IDLE_S")
    off = Settings(_env_file=None, data_dir=tmp_path, embedded_recycle_rss="off")
    assert Recycler.from_settings(off) is None
    on = Recycler.from_settings(
        Settings(_env_file=None, data_dir=tmp_path, embedded_recycle_rss="512M")
    )
    assert on is not None and on.max_rss == 512 * 2**20 and on.idle_s == 300.0
