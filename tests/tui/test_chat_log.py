"""The chat log's views survive a worker that streams into them after they were removed."""

from __future__ import annotations

from textual.app import App, ComposeResult

from apsara_tui.widgets.chat_log import ChatLog, MessageView
from apsara_tui.widgets.live_text import BlockEnds, LiveText, finished_prefix, wrap_rows


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


def test_finished_blocks_end_at_the_last_blank_line_outside_a_fence() -> None:
    assert finished_prefix("no block is finished yet") == 0
    assert finished_prefix("one\n\ntwo") == len("one\n\n")
    assert finished_prefix("```\ncode\n\nmore code\n") == 0  # a blank line in a fence
    assert finished_prefix("```\ncode\n\n```\n\nafter") == len("```\ncode\n\n```\n\n")


def test_block_ends_found_as_the_text_grows_match_a_scan_of_the_whole_text() -> None:
    text = "intro\n\n```py\nx = 1\n\ny = 2\n```\n\n- a\n- b\n\n~~~\n\n~~~\nlast\tline"
    for step in (1, 2, 5, 11):
        ends, live = BlockEnds(), ""  # as MessageView feeds it: the live block, then cut
        for start in range(0, len(text), step):
            live += text[start : start + step]
            cut = ends.finished(live)
            assert cut == finished_prefix(live), (step, live)
            if cut and start % 2:  # take the finished blocks off now and then
                ends.cut(cut)
                live = live[cut:]


def test_appending_wraps_like_wrapping_the_whole_text() -> None:
    text = "a few words, then averyveryverylongwordthatmustbecut, then\nanother line  with  spaces é漢字"
    for width in (1, 3, 7, 12, 30):
        grown = LiveText()
        grown._rewrap(width)
        for start in range(0, len(text), 3):  # in 3-character chunks, as a stream would
            grown.append(text[start : start + 3])
        whole = LiveText(text)
        whole._rewrap(width)
        assert grown._rows == whole._rows, width
    rows = wrap_rows("hello world again", 0, 11)
    assert [row for _, row in rows] == ["hello world", "again"]


async def test_a_long_paragraph_streams_with_few_layouts() -> None:
    """5,000 characters in one paragraph: its rows fill the room kept for them, and the
    screen is laid out only when that room runs out, not per row or per chunk."""
    app = _LogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.query_one(ChatLog)
        view = await log.add({"role": "model", "content": {}}, streaming=True)
        await pilot.pause()
        live = view.query_one(LiveText)
        layouts = 0
        for n in range(1000):
            await view.append_text(f"w{n} ")
            if n % 50 == 49:
                await view._write_unsent()
                layouts += live._layout_required
                await pilot.pause()
        assert live.rows > 60  # ~5,000 characters at 78 columns
        assert layouts <= 10, layouts  # 20 repaints, most of them without a layout
        assert live.text == view.text
        await view.end_stream()
        view.finish({"status": "complete"})
        await pilot.pause()
        body = view.query_one(".body")  # the final body, one plain Static
        assert type(body).__name__ == "Static"
        assert "w999" in "".join(body.render_line(y).text for y in range(body.size.height))
