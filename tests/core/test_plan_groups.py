"""Model groups of a plan: one shared limit, reserved and refunded atomically on the embedded
server, exact under concurrency, validated, audited; a grouped model is "in the plan"."""

from __future__ import annotations

import asyncio

import pytest

from apsara_core.core import Core
from apsara_core.errors import PermissionDeniedError, RateLimitError, ValidationError
from apsara_core.models import Principal
from apsara_core.repos.users import new_id
from apsara_core.services.limits import Reservation

FLASH, PRO, EMBED = "gemini-2.5-flash", "gemini-2.5-pro", "gemini-embedding-001"
ADMIN = Principal(user_id=new_id(), role="admin", plan="premium", email="root@example.com")


def member(plan: str = "free") -> Principal:
    return Principal(user_id=new_id(), role="user", plan=plan, email=None)


async def group_count(core: Core, user_id: str, group: str) -> int:
    day = core.clock.now().date().isoformat()
    doc = await core.db.quota_counters.find_one({"_id": f"{user_id}|{day}|group:{group}"})
    return int((doc or {}).get("count", 0))


async def test_a_group_takes_its_models_over_and_is_audited(core: Core) -> None:
    plan = await core.plans.set_group(
        actor=ADMIN, plan="free", group="chat", models=[FLASH, PRO, FLASH], daily="3"
    )
    assert plan["groups"] == {"chat": {"models": [FLASH, PRO], "daily": 3, "total": None}}
    assert set(plan["models"]) == {EMBED}  # the group's limit is theirs now
    stored = await core.db.plans.find_one({"name": "free"})
    assert stored["groups"]["chat"]["models"] == [FLASH, PRO]
    entry = await core.db.audit.find_one({"action": "plan.set_group"})
    assert entry["before"]["models"][PRO] == {"daily": 5, "total": None}
    assert entry["after"] == {"group": "chat", "models": [FLASH, PRO], "daily": 3, "total": None}
    listed = {p["name"]: p for p in await core.plans.list()}
    assert listed["free"]["groups"]["chat"]["daily"] == 3 and listed["premium"]["groups"] == {}


async def test_models_of_a_group_share_one_counter(core: Core) -> None:
    await core.plans.set_group(actor=ADMIN, plan="free", group="chat", models=[FLASH, PRO], daily=3)
    actor = member()
    first = await core.limits.reserve(actor=actor, model=FLASH)
    await core.limits.reserve(actor=actor, model=PRO)
    await core.limits.reserve(actor=actor, model=FLASH)
    assert await group_count(core, actor.user_id, "chat") == 3
    with pytest.raises(RateLimitError) as refused:
        await core.limits.reserve(actor=actor, model=PRO)
    assert "group chat" in refused.value.message and "3/3" in refused.value.message
    info = await core.limits.quota(actor=actor)
    assert info["dailyUsage"][PRO] == {"count": 3, "limit": 3}
    assert info["dailyUsage"][FLASH] == {"count": 3, "limit": 3}
    await core.limits.refund(first)
    await core.limits.refund(first)  # a second refund is a no-op
    assert await group_count(core, actor.user_id, "chat") == 2
    again = await core.limits.reserve(actor=actor, model=PRO)
    await core.limits.commit(again, prompt_tokens=1, output_tokens=2)
    history = await core.db.usage_daily.find_one({"userId": actor.user_id, "model": PRO})
    assert history["committed"] == 1  # history stays per model
    assert await group_count(core, actor.user_id, "chat") == 3


async def test_parallel_reservations_on_a_group_never_exceed_its_limit(core: Core) -> None:
    await core.plans.set_group(actor=ADMIN, plan="free", group="chat", models=[FLASH, PRO], daily=7)
    actor = member()
    results = await asyncio.gather(
        *(core.limits.reserve(actor=actor, model=(FLASH, PRO)[i % 2]) for i in range(24)),
        return_exceptions=True,
    )
    admitted = [r for r in results if isinstance(r, Reservation)]
    refused = [r for r in results if isinstance(r, RateLimitError)]
    assert len(admitted) == 7 and len(refused) == 17
    assert await group_count(core, actor.user_id, "chat") == 7
    await asyncio.gather(*(core.limits.refund(r) for r in admitted[:4]))
    assert await group_count(core, actor.user_id, "chat") == 3


async def test_a_total_group_is_a_lifetime_allowance(core: Core) -> None:
    await core.plans.set_group(actor=ADMIN, plan="guest", group="trial", models=[FLASH], total=2)
    guest = Principal(user_id=new_id(), role="guest", plan="guest", email=None)
    r = await core.limits.reserve(actor=guest, model=FLASH)
    assert r.guest and r.counter_model == "group:trial"
    await core.limits.reserve(actor=guest, model=FLASH)
    with pytest.raises(RateLimitError) as refused:
        await core.limits.reserve(actor=guest, model=FLASH)
    assert refused.value.reset_time is None
    info = await core.limits.quota(actor=guest)
    assert info["guestLimits"] == {"totalMessagesLimit": 2, "totalMessagesUsed": 2}


async def test_a_model_only_in_a_group_is_in_the_plan_and_refusals_name_it(core: Core) -> None:
    await core.plans.set_group(actor=ADMIN, plan="free", group="pro", models=[PRO], daily=1)
    await core.plans.remove_group(actor=ADMIN, plan="free", group="pro")  # PRO leaves free
    await core.plans.set_group(actor=ADMIN, plan="premium", group="smart", models=[PRO], daily=9)
    assert (await core.limits.reserve(actor=member("premium"), model=PRO)).model == PRO
    with pytest.raises(PermissionDeniedError) as refused:
        await core.limits.reserve(actor=member("free"), model=PRO)
    assert refused.value.code == "MODEL_NOT_IN_PLAN"
    assert refused.value.details == f"{PRO} is available on: premium"
    assert (await core.db.audit.find_one({"action": "plan.remove_group"}))["before"]["group"] == (
        "pro"
    )


async def test_group_input_is_checked_and_named(core: Core) -> None:
    await core.plans.set_group(actor=ADMIN, plan="free", group="chat", models=[FLASH], daily=3)
    cases = [
        ({"models": ["no-such-model"], "daily": 1}, "model", "Unknown model"),
        ({"models": [], "daily": 1}, "model", "at least one"),
        ({"models": [PRO], "daily": 1, "total": 2}, "daily", "exactly one"),
        ({"models": [PRO]}, "daily", "exactly one"),
        ({"models": [PRO], "daily": -1}, "daily", "whole number"),
        ({"models": [PRO], "total": "x"}, "total", "whole number"),
    ]
    for fields, field, words in cases:
        with pytest.raises(ValidationError) as bad:
            await core.plans.set_group(actor=ADMIN, plan="free", group="other", **fields)
        assert bad.value.field == field and words in bad.value.message, (fields, bad.value)
    with pytest.raises(ValidationError) as twice:
        await core.plans.set_group(actor=ADMIN, plan="free", group="two", models=[FLASH], daily=1)
    assert twice.value.field == "model" and "already in group 'chat'" in twice.value.message
    with pytest.raises(ValidationError) as name:
        await core.plans.set_group(actor=ADMIN, plan="free", group="a.b", models=[PRO], daily=1)
    assert name.value.field == "group"
    with pytest.raises(ValidationError) as own:
        await core.plans.set_limit(actor=ADMIN, plan="free", model=FLASH, daily=5)
    assert own.value.field == "model" and "group 'chat'" in own.value.message
    with pytest.raises(ValidationError) as gone:
        await core.plans.remove_group(actor=ADMIN, plan="free", group="nope")
    assert gone.value.field == "group" and "chat" in gone.value.message
    with pytest.raises(PermissionDeniedError):
        await core.plans.set_group(actor=member(), plan="free", group="x", models=[PRO], daily=1)
    with pytest.raises(ValidationError) as plan:
        await core.plans.set_group(actor=ADMIN, plan="gold", group="x", models=[PRO], daily=1)
    assert plan.value.field == "plan"
