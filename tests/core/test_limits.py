"""LimitsService on the embedded server: exact under concurrency, refunds, commits, midnight."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from apsara_core.core import Core
from apsara_core.errors import PermissionDeniedError, RateLimitError, ValidationError
from apsara_core.models import Principal
from apsara_core.repos import usage
from apsara_core.repos.users import new_id
from apsara_core.services.limits import Reservation

FLASH, PRO = "gemini-2.5-flash", "gemini-2.5-pro"


def principal(plan: str = "free", role: str | None = None) -> Principal:
    """A fresh user of `plan` (guests get the guest role)."""
    return Principal(
        user_id=new_id(),
        role=role or ("guest" if plan == "guest" else "user"),
        plan=plan,
        email=None,
    )


async def counter(core: Core, user_id: str, date_key: str, model: str) -> dict:
    """The stored admission counter of (user, date or "total", model), or {}."""
    return await core.db.quota_counters.find_one({"_id": f"{user_id}|{date_key}|{model}"}) or {}


async def history(core: Core, user_id: str, day: str, model: str) -> dict:
    """The stored usage history of (user, day, model), or {}."""
    return (
        await core.db.usage_daily.find_one({"userId": user_id, "date": day, "model": model}) or {}
    )


def fix_clock(core: Core, when: datetime) -> None:
    core.clock.set(when)


async def reserve_all(core: Core, actor: Principal, model: str, n: int):
    """n concurrent reservations: (admitted, refused errors)."""
    results = await asyncio.gather(
        *(core.limits.reserve(actor=actor, model=model) for _ in range(n)), return_exceptions=True
    )
    admitted = [r for r in results if isinstance(r, Reservation)]
    refused = [r for r in results if isinstance(r, RateLimitError)]
    others = [r for r in results if not isinstance(r, (Reservation, RateLimitError))]
    assert not others, others[:3]
    return admitted, refused


async def test_200_concurrent_at_17_of_20_admit_exactly_3(core: Core) -> None:
    now = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)
    fix_clock(core, now)
    user = principal("free")
    first, _ = await reserve_all(core, user, FLASH, 17)
    assert len(first) == 17
    admitted, refused = await reserve_all(core, user, FLASH, 200)
    assert len(admitted) == 3 and len(refused) == 197
    reset = datetime(2026, 3, 11, tzinfo=UTC)
    assert all(e.reset_time == reset for e in refused)
    body = refused[0].to_dict()
    assert body["resetTime"] == "2026-03-11T00:00:00Z" and body["code"] == "RATE_LIMIT_EXCEEDED"
    info = body["usageInfo"]
    assert info["subscriptionPlan"] == "free"
    assert info["dailyUsage"]["date"] == "2026-03-10"
    assert info["dailyUsage"][FLASH] == {"count": 20, "limit": 20}
    assert info["dailyUsage"][PRO] == {"count": 0, "limit": 5}
    assert info["totalUsage"] == {"totalMessages": 0, "totalTokens": 0}
    assert "Used 20/20 messages today" in refused[0].message
    doc = await counter(core, user.user_id, "2026-03-10", FLASH)
    assert doc["count"] == 20
    assert (await history(core, user.user_id, "2026-03-10", FLASH))["refused"] == 197


async def test_guest_gets_5_ever_and_never_pro(core: Core) -> None:
    guest = principal("guest")
    fix_clock(core, datetime(2026, 3, 10, 12, tzinfo=UTC))
    admitted, refused = await reserve_all(core, guest, FLASH, 20)
    assert len(admitted) == 5 and len(refused) == 15
    assert all(r.guest for r in admitted)
    assert refused[0].reset_time is None and "does not reset" in refused[0].details
    assert refused[0].usage_info["guestLimits"] == {"totalMessagesLimit": 5, "totalMessagesUsed": 5}
    fix_clock(core, datetime(2026, 4, 1, 12, tzinfo=UTC))  # days later: still none
    with pytest.raises(RateLimitError):
        await core.limits.reserve(actor=guest, model=FLASH)
    with pytest.raises(PermissionDeniedError) as denied:
        await core.limits.reserve(actor=guest, model=PRO)
    assert "free" in denied.value.details and "premium" in denied.value.details
    assert (await counter(core, guest.user_id, "total", FLASH))["count"] == 5


async def test_fresh_guest_can_never_reach_pro(core: Core) -> None:
    with pytest.raises(PermissionDeniedError):
        await core.limits.reserve(actor=principal("guest"), model=PRO)


async def test_ten_failed_calls_leave_the_count_unchanged(core: Core) -> None:
    user = principal("free")
    kept = await core.limits.reserve(actor=user, model=FLASH)
    today = kept.day.isoformat()
    for _ in range(10):
        r = await core.limits.reserve(actor=user, model=FLASH)
        await core.limits.refund(r)
    doc = await counter(core, user.user_id, today, FLASH)
    assert doc["count"] == 1 and not await usage.is_closed(core.db, kept.id)
    assert (await history(core, user.user_id, today, FLASH))["refunded"] == 10


async def test_refund_is_idempotent_and_void_after_commit(core: Core) -> None:
    user = principal("free")
    r1 = await core.limits.reserve(actor=user, model=PRO)
    r2 = await core.limits.reserve(actor=user, model=PRO)
    await asyncio.gather(*(core.limits.refund(r1) for _ in range(5)))
    await core.limits.commit(r2, prompt_tokens=10, output_tokens=20, thoughts_tokens=5)
    await core.limits.refund(r2)
    await core.limits.commit(r2, prompt_tokens=10, output_tokens=20)
    doc = await counter(core, user.user_id, r1.day.isoformat(), PRO)
    assert doc["count"] == 1
    assert await usage.is_closed(core.db, r1.id) and await usage.is_closed(core.db, r2.id)
    day = await history(core, user.user_id, r1.day.isoformat(), PRO)
    assert day["refunded"] == 1 and day["committed"] == 1 and day["totalTokens"] == 35


async def test_commit_records_tokens_totals_and_activity(core: Core) -> None:
    user = principal("premium")
    when = datetime(2026, 5, 1, 8, tzinfo=UTC)
    fix_clock(core, when)
    reservations = [await core.limits.reserve(actor=user, model=FLASH) for _ in range(3)]
    await asyncio.gather(
        *(
            core.limits.commit(r, prompt_tokens=100, output_tokens=40, thoughts_tokens=7)
            for r in reservations
        )
    )
    await core.limits.record_conversation(user_id=user.user_id)
    doc = await core.db.user_usage.find_one({"userId": user.user_id})
    assert doc["totalUsage"] == {
        "totalMessages": 3,
        "totalTokens": 441,
        "promptTokens": 300,
        "outputTokens": 120,
        "thoughtsTokens": 21,
        "totalConversations": 1,
    }
    assert doc["lastActivity"].replace(tzinfo=UTC) == when
    day = await history(core, user.user_id, "2026-05-01", FLASH)
    assert (day["committed"], day["promptTokens"], day["outputTokens"]) == (3, 300, 120)
    quota = await core.limits.quota(actor=user)
    assert quota["dailyUsage"][FLASH] == {"count": 3, "limit": 100}
    assert quota["totalUsage"] == {"totalMessages": 3, "totalTokens": 441}
    assert await core.limits.quota(actor=user, model=PRO) == {
        **quota,
        "dailyUsage": {"date": "2026-05-01", PRO: {"count": 0, "limit": 50}},
    }


async def test_closures_are_kept_by_the_real_clock(core: Core) -> None:
    """The TTL monitor (7 days on `closedAt`) uses the server's real clock: stamped with a
    replaced clock in the past, a closure was deleted at the next sweep, and a second refund
    of the same reservation then gave its unit back again (the state machine below, 4 of 5)."""
    fix_clock(core, datetime(2020, 1, 1, 12, tzinfo=UTC))
    r = await core.limits.reserve(actor=principal("free"), model=FLASH)
    before = datetime.now(UTC) - timedelta(milliseconds=1)  # BSON keeps milliseconds
    await core.limits.refund(r)
    closure = await core.db.reservation_closures.find_one({"_id": r.id})
    assert before <= closure["closedAt"] <= datetime.now(UTC)


async def test_guest_commit_keeps_a_per_day_history(core: Core) -> None:
    guest = principal("guest")
    fix_clock(core, datetime(2026, 5, 2, 9, tzinfo=UTC))
    r = await core.limits.reserve(actor=guest, model=FLASH)
    await core.limits.commit(r, prompt_tokens=3, output_tokens=4)
    failed = await core.limits.reserve(actor=guest, model=FLASH)
    await core.limits.refund(failed)
    day = await history(core, guest.user_id, "2026-05-02", FLASH)
    assert (day["committed"], day["totalTokens"], day["refunded"]) == (1, 7, 1)
    assert (await counter(core, guest.user_id, "total", FLASH))["count"] == 1
    assert await history(core, guest.user_id, "total", FLASH) == {}


async def test_midnight_splits_days(core: Core) -> None:
    user = principal("free")
    fix_clock(core, datetime(2026, 6, 1, 23, 59, 59, 900000, tzinfo=UTC))
    admitted, refused = await reserve_all(core, user, PRO, 7)
    assert len(admitted) == 5 and refused[0].reset_time == datetime(2026, 6, 2, tzinfo=UTC)
    fix_clock(core, datetime(2026, 6, 2, 0, 0, 0, 100000, tzinfo=UTC))
    admitted2, refused2 = await reserve_all(core, user, PRO, 7)
    assert len(admitted2) == 5 and refused2[0].reset_time == datetime(2026, 6, 3, tzinfo=UTC)
    assert {r.day for r in admitted2} == {date(2026, 6, 2)}
    await core.limits.refund(admitted[0])  # yesterday's failure gives back yesterday's unit
    assert (await counter(core, user.user_id, "2026-06-01", PRO))["count"] == 4
    assert (await counter(core, user.user_id, "2026-06-02", PRO))["count"] == 5


async def test_a_non_utc_clock_is_read_in_utc(core: Core) -> None:
    user = principal("free")
    plus2 = timezone(timedelta(hours=2))
    fix_clock(core, datetime(2026, 6, 2, 1, 0, tzinfo=plus2))  # 23:00 UTC on June 1st
    r = await core.limits.reserve(actor=user, model=FLASH)
    assert r.day == date(2026, 6, 1)


@pytest.mark.parametrize("model", ["gpt-4", "", None, {"$ne": None}, "gemini-2.5-flash "])
async def test_unknown_models_are_refused_by_name(core: Core, model) -> None:
    with pytest.raises(ValidationError) as err:
        await core.limits.reserve(actor=principal("free"), model=model)
    assert err.value.field == "model" and "gemini-2.5-flash" in err.value.message


async def test_unknown_plan_on_the_actor_is_a_validation_error(core: Core) -> None:
    with pytest.raises(ValidationError) as err:
        await core.limits.reserve(actor=principal("platinum"), model=FLASH)
    assert err.value.field == "plan"


@pytest.mark.parametrize("tokens", [-1, 1.5, "10", True, None])
async def test_bad_token_counts_are_refused_and_nothing_is_written(core: Core, tokens) -> None:
    user = principal("free")
    r = await core.limits.reserve(actor=user, model=FLASH)
    with pytest.raises(ValidationError) as err:
        await core.limits.commit(r, prompt_tokens=tokens, output_tokens=1)
    assert err.value.field == "promptTokens"
    assert not await usage.is_closed(core.db, r.id)
    assert await core.db.user_usage.find_one({"userId": user.user_id}) is None


async def test_a_zero_limit_refuses_without_admitting(core: Core) -> None:
    await core.plans.set_limit(actor=Principal.operator(), plan="free", model=PRO, daily=0)
    user = principal("free")
    with pytest.raises(RateLimitError) as err:
        await core.limits.reserve(actor=user, model=PRO)
    assert err.value.usage_info["dailyUsage"][PRO] == {"count": 0, "limit": 0}
    today = err.value.usage_info["dailyUsage"]["date"]
    assert await counter(core, user.user_id, today, PRO) == {}
    assert (await history(core, user.user_id, today, PRO))["refused"] == 1


WORKER = """
import asyncio, json, sys
from apsara_core.config import Settings
from apsara_core.core import open_core
from apsara_core.models import Principal
from apsara_core.errors import RateLimitError

async def main(uri, user_id, n):
    core = await open_core(Settings(_env_file=None, mongodb_uri=uri, jwt_secret="w" * 40))
    actor = Principal(user_id=user_id, role="user", plan="premium")
    admitted = refused = 0
    try:
        for i in range(n):
            try:
                r = await core.limits.reserve(actor=actor, model="gemini-2.5-flash")
            except RateLimitError:
                refused += 1
                continue
            admitted += 1
            await core.limits.commit(r, prompt_tokens=2, output_tokens=3)
    finally:
        await core.close()
    print(json.dumps({"admitted": admitted, "refused": refused}))

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


async def test_four_processes_share_exact_totals(
    core: Core, mongo_uri: str, tmp_path: Path
) -> None:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    user = principal("premium")  # 100 flash per day: 4 x 50 attempts admit exactly 100
    await core.plans.list()  # seed once before the race
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(script),
            mongo_uri,
            user.user_id,
            "50",
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(4)
    ]
    outs = [await p.communicate() for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1].decode()[-800:] for o in outs]
    results = [json.loads(o[0].decode().strip().splitlines()[-1]) for o in outs]
    assert sum(r["admitted"] for r in results) == 100
    assert sum(r["refused"] for r in results) == 100
    counters = await core.db.quota_counters.find({"userId": user.user_id}).to_list(None)
    assert sum(d["count"] for d in counters) == 100  # one day unless run across midnight
    assert await core.db.reservation_closures.count_documents({}) == 100
    days = await core.db.usage_daily.find({"userId": user.user_id}).to_list(None)
    assert sum(d.get("committed", 0) for d in days) == 100
    assert sum(d.get("refused", 0) for d in days) == 100
    totals = (await core.db.user_usage.find_one({"userId": user.user_id}))["totalUsage"]
    assert totals["totalMessages"] == 100 and totals["totalTokens"] == 500


# --- property-based: a state machine over reserve / refund / commit / day rollover -----------

from hypothesis import HealthCheck  # noqa: E402
from hypothesis import settings as hsettings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.stateful import (  # noqa: E402
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from apsara_core.core import open_core  # noqa: E402


class QuotaMachine(RuleBasedStateMachine):
    """One fresh user per example; the model of the world is admitted/refunded per counter."""

    loop: asyncio.AbstractEventLoop
    core: Core

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    @initialize(kind=st.sampled_from([("free", PRO, 5), ("guest", FLASH, 5), ("free", FLASH, 20)]))
    def start(self, kind) -> None:
        plan, self.model, self.limit = kind
        self.actor = principal(plan)
        self.core.clock.set(datetime(2026, 7, 1, 23, 59, 59, 900000, tzinfo=UTC))
        self.open: list[Reservation] = []
        self.closed: list[Reservation] = []
        self.net: dict[str, int] = {}  # counter date -> admitted - refunded

    def _key(self, r: Reservation | None = None) -> str:
        if self.actor.plan == "guest":
            return "total"
        return (r.day if r else self.core.clock.now().date()).isoformat()

    @rule()
    def reserve(self) -> None:
        try:
            r = self.run(self.core.limits.reserve(actor=self.actor, model=self.model))
        except RateLimitError:
            assert self.net.get(self._key(), 0) == self.limit
            return
        assert self.net.get(self._key(), 0) < self.limit
        self.net[self._key(r)] = self.net.get(self._key(r), 0) + 1
        self.open.append(r)

    @rule(pick=st.integers(0, 50), again=st.booleans())
    def refund(self, pick: int, again: bool) -> None:
        if again and self.closed:  # refunding a closed reservation changes nothing
            self.run(self.core.limits.refund(self.closed[pick % len(self.closed)]))
        elif self.open:
            r = self.open.pop(pick % len(self.open))
            self.run(self.core.limits.refund(r))
            self.net[self._key(r)] -= 1
            self.closed.append(r)

    @rule(pick=st.integers(0, 50), tokens=st.integers(0, 5000))
    def commit(self, pick: int, tokens: int) -> None:
        if self.open:
            r = self.open.pop(pick % len(self.open))
            self.run(self.core.limits.commit(r, prompt_tokens=tokens, output_tokens=1))
            self.closed.append(r)

    @rule(
        step=st.sampled_from([timedelta(milliseconds=200), timedelta(hours=7), timedelta(days=1)])
    )
    def advance_clock(self, step: timedelta) -> None:
        self.core.clock.advance(step)

    @invariant()
    def counters_match(self) -> None:
        if not hasattr(self, "actor"):
            return
        for key, net in self.net.items():
            doc = self.run(counter(self.core, self.actor.user_id, key, self.model))
            assert 0 <= doc.get("count", 0) <= self.limit
            assert doc.get("count", 0) == net


def test_state_machine_keeps_counts_exact(settings) -> None:
    loop = asyncio.new_event_loop()
    core = loop.run_until_complete(open_core(settings))
    QuotaMachine.loop, QuotaMachine.core = loop, core
    try:
        run_state_machine_as_test(
            QuotaMachine,
            settings=hsettings(
                max_examples=50,
                stateful_step_count=40,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
    finally:
        loop.run_until_complete(core.client.drop_database(core.db.name))
        loop.run_until_complete(core.close())
        loop.close()


async def test_deleting_a_users_counters_keeps_the_others(core: Core) -> None:
    from apsara_core.repos.usage import delete_counters

    gone, kept = principal("free"), principal("free")
    for actor in (gone, kept):
        await core.limits.reserve(actor=actor, model=FLASH)
        await core.limits.reserve(actor=actor, model=PRO)
    assert await delete_counters(core.db, user_id=gone.user_id) == 2
    assert await core.db.quota_counters.count_documents({"userId": gone.user_id}) == 0
    assert await core.db.quota_counters.count_documents({"userId": kept.user_id}) == 2
