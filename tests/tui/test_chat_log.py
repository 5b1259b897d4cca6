"""The chat log's views survive a worker that streams into them after they were removed."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult

from apsara_tui.widgets.chat_log import (
    STREAM_FLUSH_MAX_S,
    STREAM_FLUSH_S,
    ChatLog,
    MessageView,
    stream_wait,
)


class _LogApp(App[None]):
    def compose(self) -> ComposeResult:
        yield ChatLog(id="log")


async def test_a_removed_view_ignores_late_chunks_and_the_finish() -> None:
    app = _LogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.query_one(ChatLog)
        view = await log.add({"role": "model", "content": {}}, streaming=True)
        view.append_thought("thinking")
        await view.append_text("partial")
        await pilot.pause(0.1)
        await view.remove()
        assert not view.alive
        # what a send worker still running after the screen was left would do
        view.append_thought(" more")
        await view.append_text(" more")
        await view.end_stream()
        view.flush()
        view.finish({"status": "interrupted"}, error="cut", sequence=2)
        view.set_sequence(3)
        await pilot.pause(0.1)
        assert app.is_running
        assert view.text == "partial more"


async def test_a_live_view_still_repaints() -> None:
    app = _LogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.query_one(ChatLog)
        view: MessageView = await log.add({"role": "model", "content": {}}, streaming=True)
        assert view.alive
        await view.append_text("hello")
        await view.end_stream()
        view.finish({"status": "complete"}, sequence=2)
        await pilot.pause(0.1)
        assert view.sequence == 2 and not view.streaming
        body = view.query_one(".body")  # one plain body at the end, painted
        assert type(body).__name__ == "Static" and len(view.query(".body")) == 1
        assert "hello" in "".join(body.render_line(y).text for y in range(body.size.height))


def test_a_long_last_block_repaints_less_often() -> None:
    assert stream_wait("short") == pytest.approx(STREAM_FLUSH_S, rel=0.01)
    long_paragraph = "word " * 1000  # 5,000 characters in one block
    assert stream_wait(long_paragraph) == STREAM_FLUSH_MAX_S
    # only the last block counts: MarkdownStream keeps the blocks before it
    assert stream_wait(long_paragraph + "\n\nnew") == pytest.approx(STREAM_FLUSH_S, rel=0.01)
