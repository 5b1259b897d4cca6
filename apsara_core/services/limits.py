"""Quota reservations: reserve before a model call, refund on failure, commit the tokens after.

Admission is one atomic conditional update per (user, model, UTC day) — or per (user, model)
in total when the plan gives a lifetime allowance (guests). A model of a plan's group is
admitted on the group's counter instead (`group:NAME` in place of the model), by the same
update, so the group's models share one allowance exactly. Nothing is counted in memory, so
any number of processes share the same exact totals.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import uuid4

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from apsara_core.clock import Clock, next_midnight
from apsara_core.db.transactions import run_in_transaction
from apsara_core.errors import RateLimitError, ValidationError
from apsara_core.models import Principal
from apsara_core.repos import usage, writes
from apsara_core.repos.writes import Write
from apsara_core.services.plan_groups import effective_models, group_counter
from apsara_core.services.plans import ModelLimit, PlanService

TOKEN_FIELDS = ("promptTokens", "outputTokens", "thoughtsTokens")


@dataclass(frozen=True)
class Reservation:
    """One admitted unit of quota, to be committed or refunded exactly once.

    `guest` is True when the unit counts against a lifetime allowance (date "total").
    `counter` names the admission counter the unit came from: the model, or its group's.
    """

    user_id: str
    model: str
    day: date
    guest: bool
    id: str
    counter: str = ""

    @property
    def counter_model(self) -> str:
        """The model (or `group:NAME`) in the admission counter's `_id`."""
        return self.counter or self.model

    @property
    def counter_date(self) -> str:
        """The `date` of the counter this unit was taken from."""
        return usage.TOTAL if self.guest else self.day.isoformat()


def _tokens(prompt: Any, output: Any, thoughts: Any) -> dict[str, int]:
    values = {}
    for name, value in zip(TOKEN_FIELDS, (prompt, output, thoughts), strict=False):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValidationError(
                f"{name} must be a non-negative integer, got {value!r}", field=name
            )
        values[name] = value
    return {**values, "totalTokens": sum(values.values())}


class LimitsService:
    """reserve / refund / commit / record_conversation / quota.

    Days are read from `clock` (tests set it to cross midnight without sleeping).
    """

    refusal_memory_s = 60.0  # how long `recently_refused` remembers a refusal

    def __init__(self, *, db: AsyncDatabase, plans: PlanService, clock: Clock) -> None:
        self._db = db
        self._plans = plans
        self._clock = clock
        self._refused: dict[tuple[str, str], tuple[date, float]] = {}
        self._settling: dict[str, set[asyncio.Future[Any]]] = {}

    def track(self, user_id: str, accounting: asyncio.Future[Any]) -> None:
        """Note a reply's accounting still being applied in this process (reply_accounting):
        this process's usage reads wait for it (`settled`), so what a reply just counted is
        seen by the next read here. Other processes see it once it commits (milliseconds)."""
        pending = self._settling.setdefault(user_id, set())
        pending.add(accounting)

        def done(_: asyncio.Future[Any]) -> None:
            pending.discard(accounting)
            if not pending and self._settling.get(user_id) is pending:
                del self._settling[user_id]

        accounting.add_done_callback(done)

    async def settled(self, user_id: str | None = None) -> None:
        """Wait for this process's pending reply accounting of `user_id` (None: everyone's);
        a failed one is left to the sweep and not raised here."""
        pending = (
            set(self._settling.get(user_id, ()))
            if user_id is not None
            else {f for fs in self._settling.values() for f in fs}
        )
        if pending:
            await asyncio.wait(pending)

    def recently_refused(self, *, user_id: str, model: str) -> bool:
        """Whether this process refused the user `model` today within `refusal_memory_s`.

        A hint only, never a decision (the counter decides): the chat starts the model call
        alongside the reservation, except for a caller likely to be refused again.
        """
        seen = self._refused.get((user_id, model))
        return (
            seen is not None
            and seen[0] == self._today()
            and (time.monotonic() - seen[1] < self.refusal_memory_s)
        )

    def _remember_refusal(self, user_id: str, model: str, day: date) -> None:
        if len(self._refused) >= 10_000:  # a bounded hint: forget everyone at once
            self._refused.clear()
        self._refused[(user_id, model)] = (day, time.monotonic())

    def _today(self) -> date:
        return self._clock.now().date()

    async def check_model(self, *, actor: Principal, model: str) -> None:
        """Refuse a model the actor's plan does not include, before anything is started.

        Raises:
            PermissionDeniedError: the actor's plan does not include the model.
            ValidationError: unknown model or plan.
        """
        await self._plans.limit_for(plan=actor.plan, model=model)

    async def reserve(self, *, actor: Principal, model: str) -> Reservation:
        """Take one message of `model` from the actor's plan allowance.

        Raises:
            RateLimitError: the allowance is used up (with reset_time and usage_info).
            PermissionDeniedError: the actor's plan does not include the model.
            ValidationError: unknown model or plan.
        """
        limit = await self._plans.limit_for(plan=actor.plan, model=model)
        day, guest = self._today(), limit.kind == "total"
        counter = usage.TOTAL if guest else day.isoformat()
        rid = uuid4().hex
        if await usage.admit(
            self._db,
            user_id=actor.user_id,
            date=counter,
            model=limit.counter,
            limit=limit.limit,
            reservation_id=rid,
        ):
            self._refused.pop((actor.user_id, model), None)
            return Reservation(actor.user_id, model, day, guest, rid, limit.counter)
        self._remember_refusal(actor.user_id, model, day)
        await usage.bump(
            self._db, user_id=actor.user_id, date=day.isoformat(), model=model, inc={"refused": 1}
        )
        raise await self._refusal(actor, limit, day)

    async def _refusal(self, actor: Principal, limit: ModelLimit, day: date) -> RateLimitError:
        info = await self._usage_info(actor, day, None)
        used = info["dailyUsage"].get(limit.model, {}).get("count", limit.limit)
        what = limit.model if limit.group is None else f"{limit.model} (group {limit.group})"
        if limit.kind == "total":
            return RateLimitError(
                f"Guest limit reached for {what}: used {used}/{limit.limit} messages",
                details=(
                    f"Total limit exceeded for {what}. Used {used}/{limit.limit} "
                    "messages. A lifetime allowance does not reset (resetTime: none)."
                ),
                suggestions=["Register a free account for a daily allowance"],
                reset_time=None,
                usage_info=info,
            )
        reset = next_midnight(day)
        return RateLimitError(
            f"Daily limit exceeded for {what}. Used {used}/{limit.limit} messages today.",
            suggestions=[
                f"Try again after {reset:%Y-%m-%d %H:%M} UTC",
                "Or upgrade your plan for a higher limit",
            ],
            reset_time=reset,
            usage_info=info,
        )

    async def refund(self, reservation: Reservation) -> None:
        """Give the unit back (the model call failed). A second refund, or a refund after
        commit, is a no-op."""
        await self._transaction(lambda s: self._close(s, reservation, None))

    async def commit(
        self,
        reservation: Reservation,
        *,
        prompt_tokens: int,
        output_tokens: int,
        thoughts_tokens: int = 0,
    ) -> None:
        """Record the tokens of a successful call on the day's history and the user's totals.

        One transaction; a second commit (or a commit after refund) is a no-op.

        Raises:
            ValidationError: a token count is negative or not an integer.
        """
        tokens = _tokens(prompt_tokens, output_tokens, thoughts_tokens)
        await self._transaction(lambda s: self._close(s, reservation, tokens))

    def commit_writes(
        self,
        reservation: Reservation,
        *,
        prompt_tokens: int,
        output_tokens: int,
        thoughts_tokens: int = 0,
        now: datetime | None = None,
    ) -> list[Write]:
        """The writes of `commit`, for the caller's own transaction (e.g. the one applying a
        reply's accounting), at `now` (the clock's by default). A second close of the
        reservation then fails there with DuplicateKeyError.

        Raises:
            ValidationError: a token count is negative or not an integer.
        """
        return self._close_writes(
            reservation, _tokens(prompt_tokens, output_tokens, thoughts_tokens), now
        )

    @staticmethod
    def tokens(
        *, prompt_tokens: int, output_tokens: int, thoughts_tokens: int = 0
    ) -> dict[str, int]:
        """The validated token counts of a commit (see `commit_writes`).

        Raises:
            ValidationError: a token count is negative or not an integer.
        """
        return _tokens(prompt_tokens, output_tokens, thoughts_tokens)

    def _close_writes(
        self, r: Reservation, tokens: dict[str, int] | None, now: datetime | None = None
    ) -> list[Write]:
        return usage.close_writes(
            user_id=r.user_id,
            counter_date=r.counter_date,
            day=r.day.isoformat(),
            model=r.model,
            counter_model=r.counter_model,
            reservation_id=r.id,
            tokens=tokens,
            now=now or self._clock.now(),
        )

    async def _transaction(self, work: Callable[[Any], Awaitable[None]]) -> None:
        for attempt in range(3):
            try:
                await run_in_transaction(self._db, work)
                return
            except DuplicateKeyError:  # a racing first-of-day upsert or close: retry sees it
                if attempt == 2:
                    raise

    async def _close(self, session: Any, r: Reservation, tokens: dict[str, int] | None) -> None:
        """Close `r` unless it is closed already: refund when `tokens` is None, else commit."""
        if await usage.is_closed(self._db, r.id, session=session):
            return
        await writes.apply(self._db, self._close_writes(r, tokens), session=session)

    async def record_conversation(self, *, user_id: str) -> None:
        """Count a new conversation in the user's totals."""
        await usage.add_totals(
            self._db, user_id=user_id, now=self._clock.now(), inc={"totalConversations": 1}
        )

    async def quota(self, *, actor: Principal, model: str | None = None) -> dict[str, Any]:
        """The spec's usageInfo for the actor today: plan, per-model counts and limits, totals.

        Raises:
            PermissionDeniedError / ValidationError: `model` is not in the plan / unknown.
        """
        if model is not None:
            await self._plans.limit_for(plan=actor.plan, model=model)
        await self.settled(actor.user_id)
        return await self._usage_info(actor, self._today(), model)

    async def _usage_info(self, actor: Principal, day: date, model: str | None) -> dict[str, Any]:
        plan = await self._plans.get(name=actor.plan)
        table = effective_models(plan)  # a grouped model shows its group's shared count
        counters = {m: group_counter(e["group"]) if e.get("group") else m for m, e in table.items()}
        keys = [day.isoformat(), usage.TOTAL]
        ids = {usage.day_id(actor.user_id, k, c) for c in counters.values() for k in keys}
        found = await usage.counts(self._db, doc_ids=sorted(ids))
        daily: dict[str, Any] = {"date": day.isoformat()}
        guest = {"totalMessagesLimit": 0, "totalMessagesUsed": 0}
        seen: set[str] = set()
        for name, entry in table.items():
            if model is not None and name != model:
                continue
            kind = "total" if entry.get("total") is not None else "daily"
            if entry.get(kind) is None:
                continue
            key = usage.TOTAL if kind == "total" else day.isoformat()
            used = found.get(usage.day_id(actor.user_id, key, counters[name]), 0)
            daily[name] = {"count": used, "limit": entry[kind]}
            if kind == "total" and counters[name] not in seen:  # a group counts once
                seen.add(counters[name])
                guest["totalMessagesLimit"] += entry[kind]
                guest["totalMessagesUsed"] += used
        totals = (await usage.totals(self._db, user_id=actor.user_id)).get("totalUsage", {})
        info = {
            "subscriptionPlan": actor.plan,
            "dailyUsage": daily,
            "totalUsage": {
                "totalMessages": totals.get("totalMessages", 0),
                "totalTokens": totals.get("totalTokens", 0),
            },
        }
        if guest["totalMessagesLimit"]:
            info["guestLimits"] = guest
        return info
