"""The live part of a streaming reply: text that only grows, wrapped a row at a time.

A reply streams as finished Markdown blocks (rendered once each) followed by the block still
arriving, shown here as plain text. Appending re-wraps only the last row (greedy wrapping
never moves an earlier break when text is added at the end), so a repaint costs the new text,
not the whole block: a 5,000-character paragraph streams as cheaply as a short one.

A layout of the screen (and the full repaint after it) costs far more than a row, so the
widget keeps a few empty rows below its text: new rows fill them with a repaint of those rows
only, and the layout is asked for when they run out (a few times a second, however fast the
text arrives).
"""

from __future__ import annotations

import re
import time
from math import ceil

from rich.cells import cell_len, get_character_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

FENCE_LINE = re.compile(r" {0,3}(```|~~~)")
RESERVE_S = 0.4
"""Rows kept free below the text: as many as it grew by in this many seconds (so a layout
comes about every RESERVE_S while it streams)..."""
RESERVE_MIN, RESERVE_MAX = 2, 12
"""...at least and at most this many, and at most a quarter of the screen's height (the blank
rows below a reply streaming at the bottom of the log stay a small part of it)."""


def finished_prefix(text: str) -> int:
    """Length of the leading part of `text` made of finished Markdown blocks: up to the last
    blank line outside a code fence (0 when no block is finished yet)."""
    return BlockEnds().finished(text)


class BlockEnds:
    """`finished_prefix` of a text that only grows, found incrementally: each call scans only
    the lines completed since the last one (a long code block or paragraph is not scanned
    again on every repaint). `cut` moves the start when the finished blocks are taken off."""

    def __init__(self) -> None:
        self._scanned = 0
        """Offset of the first line not scanned yet (the last, unfinished line)."""
        self._inside = False
        """Whether the scanned lines leave a code fence open."""
        self._end = 0

    def finished(self, text: str) -> int:
        """Length of the leading finished blocks of `text` (the text seen before, extended)."""
        pos = self._scanned
        while (newline := text.find("\n", pos)) >= 0:
            line = text[pos : newline + 1]
            if FENCE_LINE.match(line):
                self._inside = not self._inside
            elif not self._inside and not line.strip():
                self._end = newline + 1
            pos = newline + 1
        self._scanned = pos
        return self._end

    def cut(self, at: int) -> None:
        """The first `at` characters were taken off the text (at a block's end)."""
        self._scanned = max(0, self._scanned - at)
        self._end = max(0, self._end - at)


def _fit(text: str, start: int, width: int) -> int:
    """The largest end such that text[start:end] takes at most `width` cells (at least one
    character, so a row always advances)."""
    if text.isascii():
        return min(len(text), start + max(1, width))
    used, end = 0, start
    while end < len(text):
        used += get_character_cell_size(text[end])
        if used > width and end > start:
            break
        end += 1
    return end


def wrap_rows(text: str, start: int, width: int) -> list[tuple[int, str]]:
    """Greedy word wrap of `text[start:]` (no newlines in it) to `width` cells: (offset, row)
    pairs. A word longer than a row is cut; the space a row breaks at is dropped."""
    rows: list[tuple[int, str]] = []
    while True:
        end = _fit(text, start, width)
        if end >= len(text):
            rows.append((start, text[start:]))
            return rows
        space = text.rfind(" ", start, end + 1)
        if space > start:
            rows.append((start, text[start:space]))
            start = space + 1
        else:
            rows.append((start, text[start:end]))
            start = end


class HeightSettles(Widget):
    """A widget whose new height, set by a layout, does not ask for another layout.

    Textual lays the screen out again whenever a widget's size changed in a layout (the
    size is a reactive with layout=True), so a growing reply cost two full layouts per row.
    When only the height changed, that second pass finds nothing new: it is skipped, as
    Textual itself does for widgets a scroll exposes. A change of width still asks for it
    (text re-wraps to the new width)."""

    def _size_updated(
        self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
    ) -> bool:
        layout = layout and (size.width != self._size.width or not self._size)
        return super()._size_updated(size, virtual_size, container_size, layout=layout)


class LiveText(HeightSettles):
    """Plain text that only grows (or is reset), drawn through the Line API: each append
    re-wraps the last row only and repaints the rows that changed; the layout is asked for
    only when the text outgrows the rows kept for it."""

    DEFAULT_CSS = """
    LiveText {
        width: 1fr;
        height: auto;
    }
    """

    def __init__(self, text: str = "", *, classes: str | None = None) -> None:
        super().__init__(classes=classes)
        self._text = text.replace("\t", "    ")
        self._rows: list[str] = []
        self._row_at = 0
        """Offset in the text where the last row starts (it is the only one appends change)."""
        self._width = 0
        self._reserved = 0
        """The height given to the layout: the rows, and a few free ones below them."""
        self._laid_rows, self._laid_at = 0, 0.0
        """The rows and the time at the last layout (how fast it grows)."""
        self._strips: dict[int, Strip] = {}
        self._style: Style | None = None

    @property
    def text(self) -> str:
        """The text shown."""
        return self._text

    @property
    def rows(self) -> int:
        """How many rows the text takes at the current width."""
        return len(self._rows) if self._text else 0

    def append(self, more: str) -> None:
        """Add text at the end; repaint the rows that changed."""
        if not more:
            return
        self._text += more.replace("\t", "    ")
        if not self._width:
            self.refresh(layout=True)
            return
        first = max(0, len(self._rows) - 1)
        self._wrap_from_last_row()
        for row in [r for r in self._strips if r >= first]:
            del self._strips[row]
        if self.rows > self._reserved:
            self.refresh(layout=True)
        else:
            self.refresh(Region(0, first, self.size.width, self.rows - first))

    def reset(self, text: str = "") -> None:
        """Show `text` instead of what was there."""
        self._text, self._rows, self._row_at = text.replace("\t", "    "), [], 0
        self._strips.clear()
        self._reserved = 0
        if self._width:
            self._wrap_from_last_row()
        self.refresh(layout=True)

    def _wrap_from_last_row(self) -> None:
        """Re-wrap from the start of the last row to the end of the text."""
        del self._rows[-1:]
        text, at = self._text, self._row_at
        while True:
            newline = text.find("\n", at)
            line_end = len(text) if newline < 0 else newline
            rows = wrap_rows(text[:line_end], at, self._width)
            self._rows.extend(row for _, row in rows)
            self._row_at = rows[-1][0]
            if newline < 0:
                return
            at = newline + 1
            self._row_at = at
            if at == len(text):
                self._rows.append("")
                return

    def _rewrap(self, width: int) -> None:
        if max(1, width) != self._width:
            self._width = max(1, width)
            self._rows, self._row_at = [], 0
            self._strips.clear()
            self._wrap_from_last_row()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._style = None
        self._strips.clear()

    def get_content_width(self, container: Size, viewport: Size) -> int:
        """As wide as the container."""
        return container.width

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        """The rows (wrapped for `width`), and when they outgrow the height kept for them,
        room for what arrives in the next RESERVE_S."""
        self._rewrap(width)
        rows = self.rows
        if rows > self._reserved or not rows:
            now = time.perf_counter()
            rate = (rows - self._laid_rows) / max(now - self._laid_at, 0.05)
            most = max(RESERVE_MIN, min(RESERVE_MAX, viewport.height // 4))
            spare = min(most, max(RESERVE_MIN, ceil(rate * RESERVE_S)))
            self._reserved = rows + spare if rows else 0
            self._laid_rows, self._laid_at = rows, now
        return self._reserved

    def render_line(self, y: int) -> Strip:
        """Row `y`, padded to the widget's width (blank below the text)."""
        width = self.size.width
        self._rewrap(width)
        strip = self._strips.get(y)
        if strip is None or strip.cell_length != width:
            if self._style is None:
                self._style = self.rich_style
            row = self._rows[y] if 0 <= y < self.rows else ""
            strip = Strip([Segment(row, self._style)], cell_len(row)).adjust_cell_length(
                width, self._style
            )
            self._strips[y] = strip
        return strip
