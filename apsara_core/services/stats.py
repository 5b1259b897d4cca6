"""Database statistics (admins) and user statistics (own, password protected for non-admins).

Messages and tokens per day come from `usage_daily` (one document per user, model and UTC day,
written by the limits service), so they cost one indexed aggregation whatever the number of
messages. Failed model calls are the refunded reservations.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from apsara_core.clock import Clock
from apsara_core.errors import (
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from apsara_core.models import Principal
from apsara_core.repos import ranks, tallies
from apsara_core.repos import stats as repo
from apsara_core.repos.usage import totals as usage_totals
from apsara_core.repos.users import emails_by_id, find_by_email_or_id
from apsara_core.services.limits import LimitsService
from apsara_core.services.users import UserService

MAX_DAYS = 366
TOP = 10


def _days(days: Any) -> int:
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise ValidationError(
            f"days must be a whole number from 1 to {MAX_DAYS}, got {days!r}", field="days"
        )
    return days


def series(values: dict[str, int], start: date, days: int) -> list[dict[str, Any]]:
    """One {"date", "count"} row per day from `start`, zeros filled in."""
    dates = [(start + timedelta(days=i)).isoformat() for i in range(days)]
    return [{"date": d, "count": values.get(d, 0)} for d in dates]


def _usage_row(row: dict[str, Any], key: str) -> dict[str, Any]:
    return {
        key: row["_id"],
        "messages": row.get("committed", 0),
        "tokens": row.get("totalTokens", 0),
        "promptTokens": row.get("promptTokens", 0),
        "outputTokens": row.get("outputTokens", 0),
        "thoughtsTokens": row.get("thoughtsTokens", 0),
        "refused": row.get("refused", 0),
        "failed": row.get("refunded", 0),
    }


def _sum_by(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Usage counter rows (date, model, sums) added up per `key`, as `repo.usage_by` returns."""
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        into = out.setdefault(row[key], {"_id": row[key]})
        for name in repo.USAGE_SUMS:
            into[name] = into.get(name, 0) + row.get(name, 0)
    return list(out.values())


def _usage_series(rows: list[dict[str, Any]], start: date, days: int) -> list[dict[str, Any]]:
    by_day = {r["_id"]: _usage_row(r, "date") for r in rows}
    empty = {
        "messages": 0,
        "tokens": 0,
        "promptTokens": 0,
        "outputTokens": 0,
        "thoughtsTokens": 0,
        "refused": 0,
        "failed": 0,
    }
    return [by_day.get(d["date"], {"date": d["date"], **empty}) for d in series({}, start, days)]


class StatsService:
    """`database(actor=...)` and `user(actor=..., user=..., password=...)`."""

    def __init__(
        self, *, db: AsyncDatabase, users: UserService, limits: LimitsService, clock: Clock
    ) -> None:
        self._db = db
        self._users = users
        self._limits = limits
        self._clock = clock

    def _period(self, days: int) -> tuple[date, date, datetime]:
        today = self._clock.now().date()
        start = today - timedelta(days=days - 1)
        return start, today, datetime.combine(start, time(0), tzinfo=UTC)

    async def database(self, *, actor: Principal, days: int = 30) -> dict[str, Any]:
        """Users by plan, role and provider; registrations, messages and tokens per day; model
        popularity; rate-limit refusals; failed calls; most active users (last `days` days).

        Raises:
            PermissionDeniedError: the actor is not an admin.
            ValidationError: days outside 1..366.
        """
        if not actor.is_admin:
            raise PermissionDeniedError("Database statistics are for admins")
        await self._limits.settled()  # replies this process just stored are counted
        days = _days(days)
        start, today, _ = self._period(days)
        db, dates = self._db, {"date": repo.date_range(start.isoformat(), today.isoformat())}
        usage = await tallies.usage_days(db, start.isoformat(), today.isoformat())
        per_day = _usage_series(_sum_by(usage, "date"), start, days)
        models = sorted(
            (_usage_row(r, "model") for r in _sum_by(usage, "model")),
            key=lambda r: (-r["messages"], r["model"]),
        )
        day_names = [d["date"] for d in series({}, start, days)]
        counted = await tallies.docs(db, ["conversations", "messages"])
        return {
            "period": {"from": start.isoformat(), "to": today.isoformat(), "days": days},
            "users": await self._user_counts(),
            "registrationsPerDay": series(await tallies.registrations(db, day_names), start, days),
            "usagePerDay": per_day,
            "models": models,
            "rateLimitRefusals": sum(d["refused"] for d in per_day),
            "errors": {"failedCalls": sum(d["failed"] for d in per_day)},
            "totals": {
                "messages": sum(d["messages"] for d in per_day),
                "tokens": sum(d["tokens"] for d in per_day),
                "conversations": counted.get("conversations", 0),
                "storedMessages": counted.get("messages", 0),
            },
            "mostActiveUsers": await self._top_users(dates, start.isoformat(), days),
        }

    async def _user_counts(self) -> dict[str, Any]:
        combos = await tallies.user_combinations(self._db)
        out: dict[str, Any] = {"total": sum(combos.values())}
        for position, name in enumerate(("byRole", "byPlan", "byProvider")):
            counts: dict[str, int] = {}
            for key, n in combos.items():
                counts[key[position]] = counts.get(key[position], 0) + n
            out[name] = counts
        return {k: out[k] for k in ("total", "byPlan", "byRole", "byProvider")}

    async def _top_users(
        self, match: dict[str, Any], first: str, days: int
    ) -> list[dict[str, Any]]:
        """The TOP users of the period: from the ranking kept at write time (repos/ranks.py)
        for periods up to its window, else by aggregating usage_daily (reads the period)."""
        if days <= ranks.WINDOW:
            rows = await ranks.top(self._db, first=first, days=days, limit=TOP)
            refused = await repo.refused_of(self._db, [r["userId"] for r in rows], match)
            rows = [{**r, "refused": refused.get(r["userId"], 0)} for r in rows]
        else:
            found = await repo.usage_by(self._db, "userId", match)
            rows = sorted(
                (_usage_row(r, "userId") for r in found),
                key=lambda r: (-r["messages"], -r["tokens"]),
            )[:TOP]
        emails = await emails_by_id(self._db, [r["userId"] for r in rows])
        return [
            {
                "userId": r["userId"],
                "email": emails.get(r["userId"]),
                "messages": r["messages"],
                "tokens": r["tokens"],
                "refused": r["refused"],
            }
            for r in rows
        ]

    async def user(
        self,
        *,
        actor: Principal,
        user: str | None = None,
        password: str | None = None,
        days: int = 30,
    ) -> dict[str, Any]:
        """One user's statistics. Admins may see anyone; others only themselves, with their
        password (the spec's "password protected").

        Raises:
            NotFoundError: no such user, or another user's (for non-admins).
            AuthenticationError: a non-admin without the right password (field "password").
            ValidationError: days outside 1..366.
        """
        days = _days(days)
        doc = await self._target(actor, user)
        if not actor.is_admin:
            await self._check_password(doc["_id"], password)
        return await self._user_stats(doc, days)

    async def _target(self, actor: Principal, user: str | None) -> dict[str, Any]:
        key = user if user is not None else actor.user_id
        doc = await find_by_email_or_id(self._db, key) if isinstance(key, str) else None
        if doc is None or (not actor.is_admin and str(doc["_id"]) != actor.user_id):
            raise NotFoundError(f"No user {key!r}", field="user")
        return doc

    async def _check_password(self, user_id: str, password: str | None) -> None:
        if not isinstance(password, str) or not password:
            raise AuthenticationError(
                "Your password is required to see your statistics",
                field="password",
                code="PASSWORD_REQUIRED",
            )
        if not await self._users.verify_password(user_id=user_id, password=password):
            raise AuthenticationError("Wrong password", field="password")

    async def _user_stats(self, doc: dict[str, Any], days: int) -> dict[str, Any]:
        db, uid = self._db, str(doc["_id"])
        start, _, since = self._period(days)
        by_role = await repo.count_by(db, "messages", "role", {"userId": uid})
        convs = await repo.conversations_of(db, uid)
        models = sorted(
            (
                _usage_row(r, "model")
                for r in await repo.usage_by(db, "model", {"userId": uid, "date": {"$ne": "total"}})
            ),
            key=lambda r: (-r["messages"], r["model"]),
        )
        totals = await usage_totals(db, user_id=uid)
        quota = await self._limits.quota(actor=Principal.of_user(doc))
        return {
            "user": {
                "_id": uid,
                "email": doc.get("email"),
                "fullName": doc.get("fullName"),
                "role": doc.get("role"),
                "subscriptionPlan": doc.get("subscriptionPlan"),
            },
            "conversations": {"total": len(convs), "mostActive": _most_active(convs)},
            "messages": {"total": sum(by_role.values()), "byRole": by_role},
            "tokens": _tokens(totals.get("totalUsage", {})),
            "totalUsage": totals.get("totalUsage", {}),
            "lastActivity": totals.get("lastActivity"),
            "models": models,
            "messagesPerDay": series(
                await repo.per_day(db, "messages", {"userId": uid, **repo.created_since(since)}),
                start,
                days,
            ),
            "quota": quota,
        }


def _tokens(total: dict[str, Any]) -> dict[str, int]:
    return {
        "prompt": total.get("promptTokens", 0),
        "output": total.get("outputTokens", 0),
        "thoughts": total.get("thoughtsTokens", 0),
        "total": total.get("totalTokens", 0),
    }


def _most_active(convs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = [
        {
            "conversationId": c.get("conversationId"),
            "title": c.get("title"),
            "messages": (c.get("stats") or {}).get("totalMessages", 0),
            "tokens": (c.get("stats") or {}).get("totalTokens", 0),
            "updatedAt": c.get("updatedAt"),
        }
        for c in convs
    ]
    return sorted(rows, key=lambda r: (-r["messages"], -r["tokens"]))[:5]
