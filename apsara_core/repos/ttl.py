"""Times written into TTL-indexed fields: always on the real clock.

The database's TTL monitor deletes a document once its indexed time is past by the server's
own clock (every 60 s on MongoDB and on the embedded server). The services keep a clock of
their own (`now`, which tests replace to pin a window or cross midnight); it decides which
day or window a unit counts in, never when a record may be forgotten. A replaced clock in
the past used to put fresh records within the monitor's reach: a request-limiter window
deleted mid-window started counting again (20 admitted of 10), and a deleted reservation
closure let a second refund give the unit back twice (counts one below the truth).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from apsara_core.clock import wall_clock

__all__ = ["expires_in", "wall_clock"]


def expires_in(life: timedelta) -> datetime:
    """The real time, `life` from now, at which a record written now may be deleted."""
    return wall_clock() + life
