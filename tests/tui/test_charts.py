"""The statistics charts' scale and date axis (apsara_tui.widgets.charts)."""

from __future__ import annotations

from apsara_tui.widgets.charts import day_ticks, nice_ticks, short_number


def test_the_scale_is_whole_numbers_reaching_the_top() -> None:
    assert nice_ticks(0) == [0, 1]
    assert nice_ticks(4) == [0, 1, 2, 3, 4]
    assert nice_ticks(12) == [0, 5, 10, 15]
    assert nice_ticks(60) == [0, 20, 40, 60]
    assert nice_ticks(1234)[-1] >= 1234 and len(nice_ticks(1234)) <= 6


def test_axis_numbers_are_short() -> None:
    assert [short_number(n) for n in (950, 1500, 12_400, 3_400_000)] == [
        "950",
        "1.5k",
        "12k",
        "3.4M",
    ]


def test_thirty_days_get_a_label_a_week_and_the_last_day() -> None:
    days = [f"2026-11-{d:02d}" for d in range(3, 31)] + ["2026-12-01", "2026-12-02"]
    positions, labels = day_ticks(days)
    assert positions == [0, 7, 14, 21, 29]
    assert labels == ["11-03", "11-10", "11-17", "11-24", "12-02"]
