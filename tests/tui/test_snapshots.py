"""Snapshot tests at 80×24 (pytest-textual-snapshot's SVG format, compared by syrupy): Home,
the chat with a streamed reply and its thoughts, users, statistics, registration, editing.

Every frame is made deterministic: the core's clock is stopped at one instant (stamps,
quota days, chart dates), the data is fixed, the database label is fixed (the test server's
port varies), cursors do not blink, and the frame is taken once workers and animations are
done. A snapshot that differs fails the test; after a deliberate change of the layout, run

    .venv/bin/python -m pytest tests/tui/test_snapshots.py --snapshot-update

and look at the SVGs in tests/tui/__snapshots__/test_snapshots/ before committing them.
Set SNAPSHOT_TEXT_DIR to also write each frame as plain text there (for reviewing).
"""

from __future__ import annotations

import dataclasses
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pytest_textual_snapshot import SVGImageExtension
from syrupy import SnapshotAssertion
from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from apsara_core.core import Core
from apsara_core.models.views import ConversationView
from apsara_core.services.chat import collect
from apsara_tui.app import ApsaraApp
from apsara_tui.screens.chat import ChatScreen
from apsara_tui.widgets.chat_input import ChatInput
from apsara_tui.widgets.chat_log import ChatLog
from tests.factories import create_user, principal_of
from tests.fakes.gemini_server import FakeGemini
from tests.tui.account_helpers import settle
from tests.tui.chat_fixtures import use_fake

NOW = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)
SIZE = (80, 24)
FLASH, PRO = "gemini-2.5-flash", "gemini-2.5-pro"


@pytest.fixture
def svg(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Snapshots stored as one .svg file per test."""
    return snapshot.use_extension(SVGImageExtension)


@pytest.fixture
def fixed_core(core: Core, fake_gemini: FakeGemini) -> Core:
    """The test's Core with a stopped clock, a fixed database label and the fake Gemini."""
    core.clock.set(NOW)
    core.target = dataclasses.replace(core.target, label="127.0.0.1:27017")
    return use_fake(core, fake_gemini)


async def frame(pilot: Pilot[Any], name: str) -> str:
    """The screen as an SVG once everything has settled (no blinking cursor)."""
    app = pilot.app
    await settle(pilot)
    for widget in app.screen.query("Input, TextArea"):
        if isinstance(widget, (Input, TextArea)):
            widget.cursor_blink = False
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()
    if target := os.environ.get("SNAPSHOT_TEXT_DIR"):
        strips = app.screen._compositor.render_strips()
        text = "\n".join("".join(seg.text for seg in strip) for strip in strips)
        Path(target, f"{name}.txt").write_text(text + "\n")
    return app.export_screenshot(title="Apsara")


async def chatting_user(core: Core) -> dict[str, Any]:
    """Ana, premium, with a conversation "Trip planning to Kyoto" of one exchange."""
    ana = await create_user(core, "ana@example.com", plan="premium")
    conv = await core.conversations.create(actor=principal_of(ana), title="Trip planning to Kyoto")
    await collect(
        core.chat.stream(
            actor=principal_of(ana),
            conversation_id=conv["conversationId"],
            text="Three things to see in Kyoto?",
        )
    )
    return ana


async def current(app: ApsaraApp, user: dict[str, Any], title: str | None = None) -> None:
    """Make `user` (and their conversation titled `title`) current, as actions 10 and 3 do."""
    app.current_user = user
    if title is not None:
        convs = await app.core.conversations.list(actor=principal_of(user))
        conv = next(c for c in convs if c["title"] == title)
        app.current_conversation = ConversationView.of(conv)


async def fix_timings(core: Core) -> None:
    """Stored reply timings are measured durations: fix them for the frame."""
    await core.db.messages.update_many(
        {"role": "model"},
        {"$set": {"metadata.timing.firstChunkMs": 120, "metadata.timing.totalMs": 480}},
    )


async def test_home(fixed_core: Core, svg: SnapshotAssertion) -> None:
    app = ApsaraApp(core=fixed_core)
    async with app.run_test(size=SIZE) as pilot:
        assert await frame(pilot, "home") == svg


async def test_chat_with_a_streamed_reply_and_thoughts(
    fixed_core: Core, svg: SnapshotAssertion
) -> None:
    ana = await chatting_user(fixed_core)
    app = ApsaraApp(core=fixed_core)
    async with app.run_test(size=SIZE) as pilot:
        await current(app, ana, "Trip planning to Kyoto")
        app.open_action(4)
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        screen.query_one(ChatInput).text = "And where to eat?"
        await pilot.press("enter")  # streamed from the fake, thoughts first
        await settle(pilot)
        log = screen.query_one(ChatLog)
        assert log.views[-1].thoughts.startswith("Thinking about: And where to eat?")
        await fix_timings(fixed_core)
        await screen.load_window(log)  # the stored reply, as the chat shows it again
        await pilot.press("ctrl+o")  # the newest reply's thoughts unfold
        assert await frame(pilot, "chat") == svg


async def test_users(fixed_core: Core, svg: SnapshotAssertion) -> None:
    for email, plan in (
        ("ana@example.com", "premium"),
        ("bo@example.com", "free"),
        ("cy@example.com", "free"),
    ):
        await create_user(fixed_core, email, plan=plan)
    app = ApsaraApp(core=fixed_core)
    async with app.run_test(size=SIZE) as pilot:
        app.open_action(9)
        assert await frame(pilot, "users") == svg


async def test_statistics(fixed_core: Core, svg: SnapshotAssertion) -> None:
    ana = await create_user(fixed_core, "ana@example.com", plan="premium")
    for model, n in ((FLASH, 3), (PRO, 1)):
        for _ in range(n):
            r = await fixed_core.limits.reserve(actor=principal_of(ana), model=model)
            await fixed_core.limits.commit(r, prompt_tokens=10, output_tokens=5)
    app = ApsaraApp(core=fixed_core)
    async with app.run_test(size=SIZE) as pilot:
        app.open_action(17)
        assert await frame(pilot, "statistics") == svg


async def test_registration(fixed_core: Core, svg: SnapshotAssertion) -> None:
    app = ApsaraApp(core=fixed_core)
    async with app.run_test(size=SIZE) as pilot:
        app.open_action(15)
        await settle(pilot)
        await pilot.press(*"Mira Sol")
        assert await frame(pilot, "registration") == svg


async def test_edit_screen(fixed_core: Core, svg: SnapshotAssertion) -> None:
    ana = await chatting_user(fixed_core)
    convs = await fixed_core.conversations.list(actor=principal_of(ana))
    conv_id = convs[0]["conversationId"]
    await collect(
        fixed_core.chat.stream(
            actor=principal_of(ana), conversation_id=conv_id, text="And where to eat?"
        )
    )
    app = ApsaraApp(core=fixed_core)
    async with app.run_test(size=SIZE) as pilot:
        await current(app, ana, "Trip planning to Kyoto")
        app.open_action(6)
        await settle(pilot)
        await pilot.press("enter")  # the newest message of yours goes into the editor
        assert await frame(pilot, "edit") == svg
