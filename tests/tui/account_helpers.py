"""Helpers for the account screens' Pilot tests (actions 8–10, 12, 15, 16)."""

from __future__ import annotations

import asyncio
from typing import Any

from textual.pilot import Pilot
from textual.screen import ModalScreen
from textual.widgets import Button, Static
from textual.worker import WorkerState

from apsara_tui.app import ApsaraApp
from apsara_tui.widgets.forms import Form


def busy(app: Any) -> list[Any]:
    """The app's workers still pending or running."""
    return [w for w in app.workers if w.state in (WorkerState.PENDING, WorkerState.RUNNING)]


async def settle(pilot: Pilot[Any], timeout: float = 20.0) -> None:
    """Let workers finish and the screen catch up; stop early when a modal waits for the user
    (its worker stays running until the test answers it)."""
    app = pilot.app
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        await pilot.pause()
        running = busy(app)
        if not running or isinstance(app.screen, ModalScreen):
            await pilot.pause()
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"workers still running after {timeout}s: {running}")


async def drained(pilot: Pilot[Any], rounds: int = 50) -> None:
    """Wait for every worker, then for those they started (a save that reloads), until none
    is pending or running; unlike `settle`, a modal does not end the wait."""
    app = pilot.app
    for _ in range(rounds):
        await pilot.pause()
        await app.workers.wait_for_complete()
        if not busy(app):
            return


async def open_action(pilot: Pilot[Any], number: int) -> None:
    """Open management action `number` as the home menu would."""
    app = pilot.app
    assert isinstance(app, ApsaraApp)
    app.open_action(number)
    await pilot.pause()
    await settle(pilot)


def form(app: ApsaraApp, form_id: str) -> Form:
    """The form with this id on the current screen."""
    return app.screen.query_one(f"#{form_id}", Form)


async def fill(pilot: Pilot[Any], form_id: str, **values: str) -> None:
    """Type values into a form's fields (by key)."""
    target = form(pilot.app, form_id)  # type: ignore[arg-type]
    for key, value in values.items():
        target.field(key).value = value
    await pilot.pause()


async def submit(pilot: Pilot[Any], form_id: str) -> None:
    """Press the form's submit button and let the Core call finish."""
    pilot.app.screen.query_one(f"#{form_id}-submit", Button).press()
    await settle(pilot)


def text_of(app: ApsaraApp, selector: str) -> str:
    """The text a Static shows."""
    return str(app.screen.query_one(selector, Static).content)


def notes(app: ApsaraApp) -> str:
    """Every notification shown so far, joined."""
    return "\n".join(n.message for n in app._notifications)
