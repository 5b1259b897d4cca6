"""Start the full-screen app. The app paints first and opens the Core behind its home screen."""

from __future__ import annotations

import sys
from typing import Any


def launch_tui(app_class: type | None = None, **run_options: Any) -> None:
    """Run the app until it exits; exit with its return code (1 after a start-up error)."""
    if app_class is None:
        from apsara_tui.app import ApsaraApp

        app_class = ApsaraApp
    app = app_class()
    app.run(**run_options)
    if app.return_code:
        sys.exit(app.return_code)
