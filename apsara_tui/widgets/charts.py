"""Charts for the statistics screens (plotext through textual-plotext): a value per day with a
date axis and an integer scale, and horizontal bars of model popularity.

The charts only draw what the core's statistics service returns; they never query.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual_plotext import PlotextPlot

TICK_DAYS = 7
"""A date label on the x axis every this many days (plus the last day)."""


def nice_ticks(top: int, count: int = 4) -> list[int]:
    """Integer ticks from 0 up to at least `top`, about `count` steps of 1, 2 or 5 × 10^k."""
    top = max(1, top)
    raw = top / count
    step = 1
    while step * 10 <= raw:
        step *= 10
    for factor in (1, 2, 5, 10):
        if step * factor >= raw:
            step *= factor
            break
    last = -(-top // step) * step
    return list(range(0, last + 1, step))


def short_number(n: int) -> str:
    """`950`, `12k`, `3.4M`: axis labels that fit a narrow scale."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M".replace(".0M", "M")
    if n >= 10_000:
        return f"{n // 1000}k"
    if n >= 1000:
        return f"{n / 1000:.1f}k".replace(".0k", "k")
    return str(n)


def day_ticks(days: Sequence[str], every: int = TICK_DAYS) -> tuple[list[int], list[str]]:
    """Positions and `MM-DD` labels for a list of ISO dates: every `every` days and the last."""
    if not days:
        return [], []
    positions = list(range(0, len(days), every))
    last = len(days) - 1
    if last - positions[-1] < every // 2 and len(positions) > 1:
        positions[-1] = last  # the last day replaces a label that would touch it
    elif positions[-1] != last:
        positions.append(last)
    return positions, [days[i][5:] for i in positions]


class Chart(PlotextPlot):
    """A plotext chart that can say what it shows as plain text."""

    def text(self) -> str:
        """The chart as plain text, as drawn at its current size."""
        return str(self.render())


class DayChart(Chart):
    """Bars of one value per day, with a date axis and an integer scale."""

    days: list[str] = []
    values: list[int] = []

    DEFAULT_CSS = """
    DayChart {
        height: 9;
        width: 1fr;
    }
    """

    def show(self, title: str, days: Sequence[str], values: Sequence[int]) -> None:
        """Draw `values` (one per day of `days`, ISO dates) under `title`."""
        self.days, self.values = list(days), list(values)
        plt = self.plt
        plt.clear_figure()
        top = max(values, default=0)
        ticks = nice_ticks(top)
        plt.title(f"{title} · total {sum(values)} · max {top}/day")
        if days:
            plt.bar(list(range(len(days))), list(values), width=0.6, marker="hd")
            plt.xticks(*day_ticks(days))
            plt.xlim(-0.5, len(days) - 0.5)
        plt.yticks(ticks, [short_number(t) for t in ticks])
        plt.ylim(0, ticks[-1])
        self.refresh()


class ModelChart(Chart):
    """Horizontal bars of a count per model, the most used on top."""

    counts: list[tuple[str, int]] = []

    DEFAULT_CSS = """
    ModelChart {
        height: 8;
        width: 1fr;
    }
    """

    def show(self, title: str, counts: Sequence[tuple[str, int]]) -> None:
        """Draw `counts` ((model, count) pairs, most used first) under `title`."""
        self.counts = list(counts)
        plt = self.plt
        plt.clear_figure()
        plt.title(title)
        top = max((n for _, n in counts), default=0)
        ticks = nice_ticks(top)
        if counts:
            rows = list(reversed(counts))  # plotext draws the first bar at the bottom
            plt.bar(
                [m for m, _ in rows],
                [n for _, n in rows],
                orientation="horizontal",
                width=0.1,
            )
        plt.xticks(ticks, [short_number(t) for t in ticks])
        plt.xlim(0, ticks[-1])
        self.styles.height = min(14, 3 + 2 * max(1, len(counts)))
        self.refresh()
