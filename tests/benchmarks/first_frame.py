"""Child process of the start-up benchmark: print the wall-clock time of the first frame, exit.

Usage: python -m tests.benchmarks.first_frame bare|apsara
Both modes go through the same steps: import, build the app, run headless, print the time
just after the first refresh.
"""

from __future__ import annotations

import sys
import time


def _stamp_after_first_frame(app) -> None:  # type: ignore[no-untyped-def]
    def done() -> None:
        print(f"{time.time():.6f}", flush=True)
        app.exit()

    app.call_after_refresh(done)


def bare() -> None:
    """A Textual app with Header, Input and Footer."""
    from textual.app import App, ComposeResult
    from textual.widgets import Footer, Header, Input

    class Bare(App[None]):
        def compose(self) -> ComposeResult:
            yield Header()
            yield Input()
            yield Footer()

        def on_mount(self) -> None:
            _stamp_after_first_frame(self)

    Bare().run(headless=True, size=(80, 24))


def apsara() -> None:
    """What `apsara` does: the app paints, then opens settings and the Core behind it."""
    from apsara_tui.app import ApsaraApp
    from apsara_tui.launch import launch_tui

    class Timed(ApsaraApp):
        def on_mount(self) -> None:
            super().on_mount()
            _stamp_after_first_frame(self)

    launch_tui(Timed, headless=True, size=(80, 24))


if __name__ == "__main__":
    {"bare": bare, "apsara": apsara}[sys.argv[1]]()
