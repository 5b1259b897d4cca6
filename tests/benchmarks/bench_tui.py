"""Benchmark (d): the chat screen in the app, on the embedded server, against FakeGemini.

1. Opening a 10,000-message conversation vs a 10-message one: the time from pushing
   ChatScreen to its first painted window of messages (goal: <= 1.5x; the ratio is the
   median of back-to-back pairs).
2. While a 1,000-chunk reply streams, a key press (ctrl+t, toggle the side panel) is handled
   within 50 ms: latency from the key event entering the app to its action running (p95).
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time

from textual import events, on

from apsara_core.core import Core
from apsara_core.models.views import ConversationView
from apsara_tui.app import ApsaraApp
from apsara_tui.screens.chat import ChatScreen
from apsara_tui.widgets.chat_input import ChatInput
from apsara_tui.widgets.chat_log import ChatLog
from tests.benchmarks.harness import with_fake_core
from tests.benchmarks.report import Result
from tests.factories import principal_of
from tests.fakes.gemini_server import FakeGemini
from tests.tui.chat_fixtures import chat_user, seed_conversation

RUNS = 15
PRESSES = 40
PRESS_GAP_S = 0.03
CHUNKS, CHUNK_DELAY_MS = 1000, 3
KEY_BUDGET_MS = 50.0


class TimedChatScreen(ChatScreen):
    """ChatScreen that records when its first window is painted and when ctrl+t (toggle panel) is handled."""

    def __init__(self) -> None:
        super().__init__()
        self.shown = asyncio.Event()
        self.shown_at = 0.0
        self.key_handled = asyncio.Event()
        self.handled_at = 0.0

    @on(ChatLog.WindowShown)
    def _painted(self, event: ChatLog.WindowShown) -> None:
        self.shown_at = event.time  # posted right after the paint (time.monotonic)
        self.shown.set()

    def action_toggle_panel(self) -> None:
        self.handled_at = time.perf_counter()
        super().action_toggle_panel()
        self.key_handled.set()


async def _open_ms(app: ApsaraApp, conv: dict) -> tuple[float, float]:
    """(ms to the first painted window, ms until the whole 50-message window is mounted)."""
    app.current_conversation = ConversationView.of(conv)
    screen = TimedChatScreen()
    gc.collect()  # a collection of the previous screen's widgets must not land in this run
    started = time.monotonic()
    app.push_screen(screen)
    await asyncio.wait_for(screen.shown.wait(), 60)
    log = screen.query_one(ChatLog)
    while log.filling:
        await asyncio.sleep(0.001)
    full = time.monotonic() - started
    elapsed = screen.shown_at - started
    await app.workers.wait_for_complete()
    app.pop_screen()
    await asyncio.sleep(0.05)
    return elapsed * 1000, full * 1000


def _press(app: ApsaraApp, key: str) -> None:
    """Deliver a key the way the terminal driver does."""
    event = events.Key(key, None)
    event.set_sender(app)
    assert app._driver is not None
    app._driver.send_message(event)


async def _key_latencies(
    app: ApsaraApp, pilot, fake: FakeGemini, conv: dict
) -> tuple[list[float], float, int]:
    fake.headers.update(
        {"x-fake-chunks": str(CHUNKS), "x-fake-chunk-delay-ms": str(CHUNK_DELAY_MS)}
    )
    app.current_conversation = ConversationView.of(conv)
    screen = TimedChatScreen()
    app.push_screen(screen)
    await asyncio.wait_for(screen.shown.wait(), 60)
    await app.workers.wait_for_complete()
    screen.query_one(ChatInput).text = "stream a long answer please"
    started = time.perf_counter()
    await pilot.press("enter")
    log = screen.query_one(ChatLog)
    while not (log.views and log.views[-1].streaming and log.views[-1].text):
        await asyncio.sleep(0.005)
    reply = log.views[-1]
    latencies: list[float] = []
    while reply.streaming and len(latencies) < PRESSES:
        screen.key_handled.clear()
        sent = time.perf_counter()
        _press(app, "ctrl+t")
        await asyncio.wait_for(screen.key_handled.wait(), 10)
        latencies.append((screen.handled_at - sent) * 1000)
        await asyncio.sleep(PRESS_GAP_S)
    await app.workers.wait_for_complete()
    fake.headers.clear()
    return latencies, (time.perf_counter() - started) * 1000, len(reply.text.split())


async def _measure(core: Core, fake: FakeGemini) -> list[Result]:
    user = await chat_user(core, "bench@example.com", plan="premium")
    small = await seed_conversation(core, user, 10, title="ten")
    big = await seed_conversation(core, user, 10_000, title="ten thousand")
    fresh = await core.conversations.create(actor=principal_of(user), title="stream")
    app = ApsaraApp(core=core)
    app.current_user = user
    async with app.run_test(size=(80, 24)) as pilot:
        await _open_ms(app, small)  # warm-up: imports, CSS, first query
        await _open_ms(app, big)
        opens: dict[str, list[tuple[float, float]]] = {"small": [], "big": []}
        for _ in range(RUNS):
            opens["small"].append(await _open_ms(app, small))
            opens["big"].append(await _open_ms(app, big))
        latencies, stream_ms, words = await _key_latencies(app, pilot, fake, fresh)
    s, b = (statistics.median(t[0] for t in opens[k]) for k in ("small", "big"))
    # Each pair ran back to back, so its ratio cancels most of a shared machine's load swings.
    ratio = statistics.median(
        big[0] / small[0] for small, big in zip(opens["small"], opens["big"], strict=False)
    )
    full = statistics.median(t[1] for t in opens["big"])
    p95 = statistics.quantiles(latencies, n=20)[-1] if len(latencies) >= 2 else float("nan")
    return [
        Result("tui (d): open a 10-message conversation, first window painted", s, "ms"),
        Result(
            "tui (d): open a 10,000-message conversation, first window painted",
            b,
            "ms",
            ratio=ratio,
            goal=1.5,
        ),
        Result("tui (d): 10,000-message conversation, whole 50-message window mounted", full, "ms"),
        Result(
            f"tui (d): 1,000-chunk reply streamed ({words} words, {CHUNK_DELAY_MS} ms/chunk)",
            stream_ms,
            "ms",
        ),
        Result(
            f"tui (d): key handled while streaming, p50 of {len(latencies)}",
            statistics.median(latencies),
            "ms",
        ),
        Result(
            "tui (d): key handled while streaming, p95 (ratio to 50 ms)",
            p95,
            "ms",
            ratio=p95 / KEY_BUDGET_MS,
            goal=1.0,
        ),
        Result("tui (d): key handled while streaming, max", max(latencies), "ms"),
    ]


def run() -> list[Result]:
    """Start an embedded server and the fake, then measure (d)."""
    return with_fake_core("bench_tui", _measure)
