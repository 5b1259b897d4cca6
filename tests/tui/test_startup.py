"""`apsara` paints first and opens the Core behind the home screen; start-up errors exit 1."""

from __future__ import annotations

from pathlib import Path

import pytest

from apsara_core.db.embedded import EmbeddedServer
from apsara_tui.app import ApsaraApp
from apsara_tui.screens.home import HomeScreen
from tests.conftest import TEST_SECRET


async def test_app_opens_its_own_core_on_the_embedded_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("APSARA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("JWT_SECRET", TEST_SECRET)
    monkeypatch.chdir(tmp_path)
    app = ApsaraApp()
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            assert isinstance(app.screen, HomeScreen)
            for _ in range(100):
                if app.core_ready:
                    break
                await pilot.pause(0.05)
            assert app.core_ready and app.core.target.embedded
            assert "embedded 127.0.0.1:" in app.sub_title
            await pilot.pause()
            app.open_action(11)  # typing two digits is tested in test_shell.py
            await pilot.pause()
            assert type(app.screen).__name__ == "DatabaseInfoScreen"
    finally:
        EmbeddedServer(tmp_path / "data").stop()


async def test_startup_error_exits_with_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MONGODB_URI", "mongodb://127.0.0.1:bad/x")
    monkeypatch.setenv("APSARA_DATA_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    app = ApsaraApp()
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(100):
            if not app.is_running:
                break
            await pilot.pause(0.05)
    assert app.return_code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: MONGODB_URI is malformed")
    assert "Traceback" not in err
