"""Action 7 with Pilot at 80x24: pick a plugin, the form validated as you type, a sync call
with the model's answer streaming in, an async job with live status, and cancel."""

from __future__ import annotations

from textual.widgets import Button, Checkbox, DataTable, Input, Select, Static

from apsara_core.core import Core
from apsara_tui.app import ApsaraApp
from apsara_tui.screens.plugins import PluginScreen
from apsara_tui.widgets.chat_log import ChatLog
from tests.tui.chat_fixtures import chat_user


def text_of(widget: Static) -> str:
    return str(widget.render())


async def settle(app: ApsaraApp, pilot) -> None:
    await pilot.pause()
    calls = [w for w in app.workers if w.group == "call"]
    if calls:
        await app.workers.wait_for_complete(calls)
    await pilot.pause(0.1)


async def open_calculator(app: ApsaraApp, core: Core, pilot) -> PluginScreen:
    app.current_user = await chat_user(core)
    app.open_action(7)
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, PluginScreen)
    screen.query_one("#plugin-select", Select).value = "google/calculator"
    await pilot.pause(0.2)
    return screen


async def fill(screen: PluginScreen, pilot, **values: str) -> None:
    for i, name in enumerate(screen.fields):
        if name in values:
            screen.query_one(f"#param-{i}", Input).value = values[name]
    await pilot.pause(0.1)


async def test_form_validates_as_you_type_then_a_sync_call_streams_the_answer(
    chat_app: ApsaraApp, core: Core
) -> None:
    async with chat_app.run_test(size=(80, 24)) as pilot:
        screen = await open_calculator(chat_app, core, pilot)
        assert screen.fields == ["number1", "number2", "operation"]
        check, call = (
            screen.query_one("#plugin-check", Static),
            screen.query_one("#plugin-call", Button),
        )
        await fill(screen, pilot, number1="15")
        assert "parameters.number2" in text_of(check) and call.disabled
        await fill(screen, pilot, number2="seven", operation="multiply")
        assert "number2" in text_of(check) and call.disabled
        await fill(screen, pilot, number2="7")
        assert "✓" in text_of(check) and not call.disabled
        screen.query_one("#plugin-send", Checkbox).value = True
        call.press()
        await settle(chat_app, pilot)
        assert "105" in text_of(screen.query_one("#plugin-result", Static))
        log = screen.query_one("#plugin-chat", ChatLog)
        assert len(log.views) == 1 and "Echo: [tool result] google/calculator" in log.views[0].text
    roles = [m["role"] async for m in core.db.messages.find({}).sort("messageSequence", 1)]
    assert roles == ["tool", "model"]


async def test_async_call_shows_live_status_and_cancel(chat_app: ApsaraApp, core: Core) -> None:
    async with chat_app.run_test(size=(80, 24)) as pilot:
        screen = await open_calculator(chat_app, core, pilot)
        await fill(screen, pilot, number1="2", number2="8", operation="power")
        screen.query_one("#plugin-async", Checkbox).value = True
        screen.query_one("#plugin-call", Button).press()
        await settle(chat_app, pilot)
        assert "queued job job_" in text_of(screen.query_one("#plugin-result", Static))
        table = screen.query_one("#plugin-jobs", DataTable)
        assert table.row_count == 1 and table.get_row_at(0)[2] == "queued"
        screen.query_one("#plugin-call", Button).press()  # a second one, to run
        await settle(chat_app, pilot)
        assert table.row_count == 2
        table.move_cursor(row=1)  # the older one
        await pilot.press("ctrl+k")
        await pilot.pause(0.2)
        worker = core.worker(concurrency=1, lease_s=3.0, poll_s=0.1)
        worker.start()
        try:
            for _ in range(100):
                await pilot.pause(0.1)
                if table.get_row_at(0)[2] == "succeeded":
                    break
        finally:
            await worker.stop()
        assert [table.get_row_at(i)[2] for i in range(2)] == ["succeeded", "cancelled"]
