"""The admission paths `tests.stress.admission` hammers: one attempt, and what the database holds.

A path is three small functions: `attempt` (one call, True when admitted or counted), `stored`
(the count the database holds after the round) and `expected` (what admitted and stored must
both be, given the attempts made). Adding a path is adding one `AdmissionPath` to `PATHS`.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from apsara_core.core import Core
from apsara_core.errors import AuthenticationError, RateLimitError
from apsara_core.models import Principal
from apsara_core.repos import usage
from apsara_core.services.auth_lockout import MAX_FAILURES
from apsara_core.services.limits import Reservation

FLASH = "gemini-2.5-flash"
PLAN = "premium"
PASSWORD = "stress check password 7f3a"
WRONG_PASSWORD = "not the password, clearly"


@dataclass(frozen=True)
class Round:
    """What one round hammers: fresh identities, plus the first round's (full by now)."""

    number: int
    clock: str  # ISO instant the services' clocks are pinned to for the whole run
    limit: int
    bare_id: str
    user_id: str
    limiter_key: str
    login_email: str
    full_user_id: str | None = None  # None in round 1: its identities are filling up
    full_limiter_key: str | None = None

    @property
    def day(self) -> str:
        """The UTC day of the pinned clock (the quota counter's date)."""
        return datetime.fromisoformat(self.clock).date().isoformat()


@dataclass(frozen=True)
class AdmissionPath:
    """One way in: `expected(round, attempts)` gives (admitted, stored) that must hold."""

    name: str
    attempt: Callable[[Core, Round], Awaitable[bool]]
    stored: Callable[[Core, Round], Awaitable[int]]
    expected: Callable[[Round, int], tuple[int, int]]
    needs_full: bool = False


def _at_limit(r: Round, attempts: int) -> tuple[int, int]:
    return r.limit, r.limit


def _none_more(r: Round, attempts: int) -> tuple[int, int]:
    return 0, r.limit


# -- the bare driver: the server's own conditional update, the baseline -------------------


async def _bare_attempt(core: Core, r: Round) -> bool:
    result = await core.db.stress_bare.update_one(
        {"_id": r.bare_id, "n": {"$lt": r.limit}}, {"$inc": {"n": 1}}
    )
    return result.modified_count == 1


async def _bare_stored(core: Core, r: Round) -> int:
    doc = await core.db.stress_bare.find_one({"_id": r.bare_id})
    return int(doc["n"]) if doc else 0


# -- quota: reserve, commit, and second closes that must change nothing -------------------

# The reservations this worker process committed, by user: closed again rounds later, after
# sweeps of the TTL monitor (a deleted closure record made such a refund count).
_COMMITTED: dict[str, list[Reservation]] = {}


async def _reserve(core: Core, user_id: str) -> bool:
    actor = Principal(user_id=user_id, role="user", plan=PLAN)
    try:
        reservation = await core.limits.reserve(actor=actor, model=FLASH)
    except RateLimitError:
        return False
    await core.limits.commit(reservation, prompt_tokens=1, output_tokens=2)
    await core.limits.refund(reservation)  # closed already: a no-op
    _COMMITTED.setdefault(user_id, []).append(reservation)
    return True


async def _reserve_when_full(core: Core, user_id: str) -> bool:
    admitted = await _reserve(core, user_id)
    if _COMMITTED.get(user_id):  # committed in round 1: this refund must change nothing
        await core.limits.refund(random.choice(_COMMITTED[user_id]))
    return admitted


async def _quota_stored(core: Core, user_id: str, day: str) -> int:
    doc = await core.db.quota_counters.find_one({"_id": usage.day_id(user_id, day, FLASH)})
    return int(doc["count"]) if doc else 0


# -- the request limiter -----------------------------------------------------------------


async def _hit(core: Core, key: str) -> bool:
    return (await core.request_limiter.hit(key=key)).allowed


async def _limiter_stored(core: Core, key: str) -> int:
    docs = await core.db.request_limits.find({"key": key}, {"count": 1}).to_list(None)
    return sum(int(d["count"]) for d in docs)


# -- login attempts: at most MAX_FAILURES password checks per lock, whatever the concurrency --


async def _wrong_login(core: Core, r: Round) -> bool:
    """True when the password was checked (and found wrong); False when the address was
    already locked (the one locked answer, no check)."""
    try:
        await core.auth.login(email=r.login_email, password=WRONG_PASSWORD)
    except AuthenticationError as exc:
        if exc.code == "INVALID_CREDENTIALS":
            return True
        if exc.code == "ACCOUNT_LOCKED":
            return False
        raise
    raise AssertionError("a wrong password signed in")


def _lockout(r: Round, attempts: int) -> tuple[int, int]:
    return min(MAX_FAILURES, attempts), min(MAX_FAILURES, attempts)


async def _failures_stored(core: Core, r: Round) -> int:
    doc = await core.db.users.find_one({"email": r.login_email}, {"failedLoginAttempts": 1})
    return int(doc.get("failedLoginAttempts", 0)) if doc else 0


PATHS: list[AdmissionPath] = [
    AdmissionPath("bare $inc", _bare_attempt, _bare_stored, _at_limit),
    AdmissionPath(
        "quota",
        lambda c, r: _reserve(c, r.user_id),
        lambda c, r: _quota_stored(c, r.user_id, r.day),
        _at_limit,
    ),
    AdmissionPath(
        "limiter",
        lambda c, r: _hit(c, r.limiter_key),
        lambda c, r: _limiter_stored(c, r.limiter_key),
        _at_limit,
    ),
    AdmissionPath("login checks", _wrong_login, _failures_stored, _lockout),
    # The first round's user and key, full since then, over sweeps of the TTL monitor.
    AdmissionPath(
        "quota full",
        lambda c, r: _reserve_when_full(c, r.full_user_id or ""),
        lambda c, r: _quota_stored(c, r.full_user_id or "", r.day),
        _none_more,
        needs_full=True,
    ),
    AdmissionPath(
        "limiter full",
        lambda c, r: _hit(c, r.full_limiter_key or ""),
        lambda c, r: _limiter_stored(c, r.full_limiter_key or ""),
        _none_more,
        needs_full=True,
    ),
]
