"""PlanService: seeded from the spec's table, changed only by admins, audited, validated."""

from __future__ import annotations

import asyncio

import pytest

from apsara_core.core import Core
from apsara_core.errors import PermissionDeniedError, ValidationError
from apsara_core.models import Principal
from apsara_core.repos.users import new_id

FLASH, PRO, EMBED = "gemini-2.5-flash", "gemini-2.5-pro", "gemini-embedding-001"
ADMIN = Principal(user_id=new_id(), role="admin", plan="premium", email="root@example.com")


async def test_seeded_with_the_spec_table(core: Core) -> None:
    plans = {p["name"]: p["models"] for p in await core.plans.list()}
    assert list(plans) == ["guest", "free", "premium"]
    assert plans["guest"] == {FLASH: {"daily": None, "total": 5}}
    assert plans["free"] == {
        FLASH: {"daily": 20, "total": None},
        PRO: {"daily": 5, "total": None},
        EMBED: {"daily": 100, "total": None},
    }
    assert plans["premium"][FLASH]["daily"] == 100 and plans["premium"][PRO]["daily"] == 50
    assert plans["premium"][EMBED]["daily"] == 1000


async def test_seeding_is_idempotent_and_race_free(core: Core) -> None:
    inserted = await asyncio.gather(*(core.plans.ensure_seeded() for _ in range(8)))
    assert sum(inserted) == 3
    assert await core.db.plans.count_documents({}) == 3


async def test_seeding_never_overwrites_a_changed_plan(core: Core) -> None:
    await core.plans.set_limit(actor=ADMIN, plan="free", model=FLASH, daily=33)
    assert await core.plans.ensure_seeded() == 0
    core.plans.invalidate()
    assert (await core.plans.get(name="free"))["models"][FLASH]["daily"] == 33


async def test_admin_sets_a_limit_and_it_is_audited(core: Core) -> None:
    plan = await core.plans.set_limit(actor=ADMIN, plan="premium", model=PRO, daily="75")
    assert plan["models"][PRO] == {"daily": 75, "total": None}
    assert (await core.db.plans.find_one({"name": "premium"}))["models"][PRO]["daily"] == 75
    entry = await core.db.audit.find_one({"action": "plan.set_limit"})
    assert entry["targetId"] == "plan:premium" and entry["actorEmail"] == "root@example.com"
    assert entry["before"] == {"model": PRO, "limits": {"daily": 50, "total": None}}
    assert entry["after"] == {"model": PRO, "limits": {"daily": 75, "total": None}}


async def test_a_new_limit_applies_to_the_next_reservation(core: Core) -> None:
    user = Principal(user_id=new_id(), role="user", plan="free")
    await core.plans.set_limit(actor=ADMIN, plan="free", model=PRO, daily=1)
    await core.limits.reserve(actor=user, model=PRO)
    with pytest.raises(Exception) as err:
        await core.limits.reserve(actor=user, model=PRO)
    assert err.value.usage_info["dailyUsage"][PRO] == {"count": 1, "limit": 1}


async def test_a_model_can_be_added_to_the_guest_plan(core: Core) -> None:
    await core.plans.set_limit(actor=ADMIN, plan="guest", model=PRO, total=1)
    guest = Principal(user_id=new_id(), role="guest", plan="guest")
    r = await core.limits.reserve(actor=guest, model=PRO)
    assert r.guest


async def test_non_admins_cannot_change_plans(core: Core) -> None:
    user = Principal(user_id=new_id(), role="user", plan="premium")
    with pytest.raises(PermissionDeniedError):
        await core.plans.set_limit(actor=user, plan="free", model=FLASH, daily=1000)
    assert (await core.plans.get(name="free"))["models"][FLASH]["daily"] == 20
    assert await core.db.audit.count_documents({}) == 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"plan": "platinum", "model": FLASH, "daily": 1}, "plan"),
        ({"plan": {"$ne": None}, "model": FLASH, "daily": 1}, "plan"),
        ({"plan": "free", "model": "gpt-4", "daily": 1}, "model"),
        ({"plan": "free", "model": ["x"], "daily": 1}, "model"),
        ({"plan": "free", "model": FLASH, "daily": -1}, "daily"),
        ({"plan": "free", "model": FLASH, "daily": "-1"}, "daily"),
        ({"plan": "free", "model": FLASH, "daily": 1.5}, "daily"),
        ({"plan": "free", "model": FLASH, "daily": "2.0"}, "daily"),
        ({"plan": "free", "model": FLASH, "daily": "lots"}, "daily"),
        ({"plan": "free", "model": FLASH, "daily": True}, "daily"),
        ({"plan": "free", "model": FLASH, "daily": 10**12}, "daily"),
        ({"plan": "free", "model": FLASH, "daily": {"$gt": 0}}, "daily"),
        ({"plan": "free", "model": FLASH, "total": -5}, "total"),
        ({"plan": "free", "model": FLASH}, "daily"),
        ({"plan": "free", "model": FLASH, "daily": 1, "total": 1}, "daily"),
    ],
)
async def test_bad_changes_name_the_field_and_change_nothing(core: Core, kwargs, field) -> None:
    before = await core.plans.list()
    with pytest.raises(ValidationError) as err:
        await core.plans.set_limit(actor=ADMIN, **kwargs)
    assert err.value.field == field
    core.plans.invalidate()
    assert await core.plans.list() == before
    assert await core.db.audit.count_documents({}) == 0


async def test_a_model_outside_the_plan_names_the_plans_that_allow_it(core: Core) -> None:
    with pytest.raises(PermissionDeniedError) as err:
        await core.plans.limit_for(plan="guest", model=EMBED)
    assert err.value.field == "model"
    assert "free, premium" in err.value.details


async def test_concurrent_admin_changes_all_land(core: Core) -> None:
    await asyncio.gather(
        core.plans.set_limit(actor=ADMIN, plan="free", model=FLASH, daily=21),
        core.plans.set_limit(actor=ADMIN, plan="free", model=PRO, daily=6),
        core.plans.set_limit(actor=ADMIN, plan="free", model=EMBED, daily=101),
    )
    models = (await core.db.plans.find_one({"name": "free"}))["models"]
    assert [models[m]["daily"] for m in (FLASH, PRO, EMBED)] == [21, 6, 101]
    assert await core.db.audit.count_documents({"action": "plan.set_limit"}) == 3
