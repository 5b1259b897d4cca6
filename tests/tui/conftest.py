"""Fixtures for Pilot tests: the app over a Core on this test's database."""

from __future__ import annotations

import pytest

from apsara_core.core import Core
from apsara_tui.app import ApsaraApp


@pytest.fixture
def app(core: Core) -> ApsaraApp:
    """An ApsaraApp over the test's Core (run it with `app.run_test()`)."""
    return ApsaraApp(core=core)
