"""The one source of "now" for the core: aware UTC, settable by tests.

`Core` holds one `Clock` and hands it to every service that reads the time, so a test sets
`core.clock.set(when)` to cross a midnight or a window without sleeping, and every rule (quota
days, lockouts, codes, request windows, statistics, stamps) sees the same instant.

Three clocks stay outside it on purpose: TTL fields use `wall_clock()` (the database's TTL
monitor deletes by the real time, see `apsara_core.repos.ttl`); durations are measured with `time.perf_counter` /
`time.monotonic` (a set clock must not make a reply last -3 days), and PyJWT checks a token's
`exp` and `iat` against the system time, so a test that sets the clock far away does not sign
in under it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta


class Clock:
    """`now()` is the system time until `set` fixes it (and after `set(None)` again)."""

    def __init__(self, fixed: datetime | None = None) -> None:
        self._fixed: datetime | None = None
        self.set(fixed)

    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        return self._fixed if self._fixed is not None else datetime.now(UTC)

    def now_ms(self) -> datetime:
        """`now()` truncated to milliseconds: exactly what the database keeps of it."""
        now = self.now()
        return now.replace(microsecond=now.microsecond // 1000 * 1000)

    def set(self, when: datetime | None) -> None:
        """Stop the clock at `when` (aware); None lets it run with the system time again.

        Raises:
            ValueError: `when` has no timezone (it would be read as local time).
        """
        if when is not None and when.tzinfo is None:
            raise ValueError("Clock.set needs a timezone-aware datetime")
        self._fixed = when.astimezone(UTC) if when is not None else None

    def advance(self, delta: timedelta) -> None:
        """Move a stopped clock on by `delta` (a running one is stopped at now + delta)."""
        self._fixed = self.now() + delta


def wall_clock() -> datetime:
    """The real current time, whatever a `Clock` was set to: for times written into
    TTL-indexed fields, which the database's TTL monitor compares with its own real clock
    (see `apsara_core.repos.ttl`)."""
    return datetime.now(UTC)


def next_midnight(day: date) -> datetime:
    """00:00 UTC of the day after `day`: when daily quotas and daily caps reset."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)
