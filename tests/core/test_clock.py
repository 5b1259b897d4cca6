"""The core's one clock: system time until a test sets it, then exactly what was set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from apsara_core.clock import Clock, next_midnight

T0 = datetime(2026, 6, 1, 23, 59, 59, 999999, tzinfo=UTC)


def test_a_running_clock_reads_the_system_time_in_utc() -> None:
    before = datetime.now(UTC)
    now = Clock().now()
    assert before <= now <= datetime.now(UTC) and now.tzinfo == UTC


def test_a_set_clock_stands_still_advances_and_runs_again() -> None:
    clock = Clock()
    clock.set(T0.astimezone(timezone(timedelta(hours=2))))  # read back in UTC
    assert clock.now() == T0 and clock.now().tzinfo == UTC
    assert clock.now_ms() == T0.replace(microsecond=999000)
    clock.advance(timedelta(microseconds=1))
    assert clock.now() == datetime(2026, 6, 2, tzinfo=UTC)
    clock.set(None)
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=5)


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Clock().set(datetime(2026, 6, 1))


def test_the_next_midnight_is_utc() -> None:
    assert next_midnight(T0.date()) == datetime(2026, 6, 2, tzinfo=UTC)
