"""User administration: create, list, show, delete (with data), plan, role, unlock."""

from __future__ import annotations

import pytest

from apsara_core.core import Core
from apsara_core.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from apsara_core.models import Principal
from tests.factories import STRONG_PASSWORD, create_user, principal_of

OP = Principal.operator()
PUBLIC = {
    "_id",
    "fullName",
    "email",
    "role",
    "subscriptionPlan",
    "authProvider",
    "isGuest",
    "isEmailVerified",
    "picture",
    "lockedUntil",
    "failedLoginAttempts",
    "createdAt",
    "updatedAt",
    "lastLoginAt",
}


async def test_create_with_password_can_log_in_and_is_public(core: Core) -> None:
    user = await core.users.create(
        actor=OP,
        email=" New@Example.com",
        full_name="New Person",
        password=STRONG_PASSWORD,
        role="admin",
        plan="premium",
        verified=True,
    )
    assert set(user) == PUBLIC
    assert user["email"] == "new@example.com" and user["role"] == "admin"
    assert user["createdAt"].tzinfo is not None
    session = await core.auth.login(email="new@example.com", password=STRONG_PASSWORD)
    assert session.user["_id"] == user["_id"]


async def test_create_without_password_and_duplicates(core: Core) -> None:
    user = await core.users.create(actor=OP, email="np@example.com", full_name="No Pass")
    assert user["isEmailVerified"] is False and user["subscriptionPlan"] == "free"
    assert "password" not in await core.db.users.find_one({"_id": user["_id"]})
    with pytest.raises(ConflictError) as exc:
        await core.users.create(actor=OP, email="NP@example.com", full_name="Again")
    assert exc.value.field == "email"
    assert await core.db.audit.count_documents({"action": "user.create"}) == 1


@pytest.mark.parametrize(
    "change,field",
    [
        ({"email": "bad"}, "email"),
        ({"email": {"$ne": None}}, "email"),
        ({"full_name": ""}, "fullName"),
        ({"password": "short"}, "password"),
        ({"password": "password1"}, "password"),
        ({"role": "guest"}, "role"),
        ({"role": "root"}, "role"),
        ({"plan": "gold"}, "plan"),
        ({"verified": "yes"}, "verified"),
    ],
)
async def test_create_refuses_bad_input_and_stores_nothing(core: Core, change, field) -> None:
    args = {"email": "a@example.com", "full_name": "A", "password": STRONG_PASSWORD, **change}
    with pytest.raises(ValidationError) as exc:
        await core.users.create(actor=OP, **args)
    assert exc.value.field == field
    assert await core.db.users.count_documents({}) == 0


async def test_only_admins_manage_users(core: Core) -> None:
    user = await create_user(core, "plain@example.com")
    other = await create_user(core, "other@example.com")
    actor = principal_of(user)
    with pytest.raises(PermissionDeniedError):
        await core.users.create(actor=actor, email="x@example.com", full_name="X")
    with pytest.raises(PermissionDeniedError):
        await core.users.list(actor=actor)
    for call in (core.users.delete, core.users.unlock):
        with pytest.raises(PermissionDeniedError):
            await call(actor=actor, user=other["email"])
    assert (await core.users.get(actor=actor, user=user["email"]))["_id"] == user["_id"]
    with pytest.raises(NotFoundError) as foreign:  # someone else's account looks unknown
        await core.users.get(actor=actor, user=other["_id"])
    with pytest.raises(NotFoundError) as unknown:
        await core.users.get(actor=actor, user="000000000000000000000000")
    assert foreign.value.http_status == unknown.value.http_status == 404


async def test_list_filters_search_and_pages(core: Core) -> None:
    for i in range(25):
        await create_user(
            core,
            f"user{i:02d}@example.com",
            full_name=f"Person {i:02d}",
            plan="premium" if i % 5 == 0 else "free",
        )
    await create_user(core, "boss@example.com", role="admin", full_name="The Boss")
    await core.auth.guest(client_key="device", address="local")
    page = await core.users.list(actor=OP, page=2, page_size=10)
    assert page["total"] == 27 and page["page"] == 2 and page["pageSize"] == 10
    assert len(page["items"]) == 10
    last = await core.users.list(actor=OP, page=3, page_size=10)
    assert len(last["items"]) == 7
    all_ids = {
        u["_id"]
        for p in (1, 2, 3)
        for u in (await core.users.list(actor=OP, page=p, page_size=10))["items"]
    }
    assert len(all_ids) == 27
    assert (await core.users.list(actor=OP, plan="premium"))["total"] == 5
    assert [u["email"] for u in (await core.users.list(actor=OP, role="admin"))["items"]] == [
        "boss@example.com"
    ]
    assert (await core.users.list(actor=OP, provider="guest"))["total"] == 1
    found = await core.users.list(actor=OP, text="BOSS")
    assert [u["fullName"] for u in found["items"]] == ["The Boss"]
    assert (await core.users.list(actor=OP, text="person 1"))["total"] == 10
    assert (await core.users.list(actor=OP, text=".*"))["total"] == 0  # regex is escaped


@pytest.mark.parametrize(
    "kwargs,field",
    [
        ({"role": "x"}, "role"),
        ({"plan": "x"}, "plan"),
        ({"provider": "x"}, "provider"),
        ({"page": 0}, "page"),
        ({"page_size": 0}, "pageSize"),
        ({"page_size": 1000}, "pageSize"),
        ({"text": {"$ne": 1}}, "search"),
    ],
)
async def test_list_refuses_bad_filters(core: Core, kwargs, field) -> None:
    with pytest.raises(ValidationError) as exc:
        await core.users.list(actor=OP, **kwargs)
    assert exc.value.field == field


async def test_delete_removes_the_user_and_their_data_in_one_go(core: Core) -> None:
    user = await create_user(core, "gone@example.com")
    keep = await create_user(core, "keep@example.com")
    uid, kid = user["_id"], keep["_id"]
    db = core.db
    await db.conversations.insert_many(
        [
            {"_id": c, "conversationId": c, "userId": u}
            for c, u in (("c1", uid), ("c2", uid), ("k1", kid))
        ]
    )
    await db.messages.insert_many(
        [
            {"messageId": f"m{i}", "conversationId": "c1", "userId": uid, "messageSequence": i}
            for i in range(3)
        ]
        + [{"messageId": "km", "conversationId": "k1", "userId": kid, "messageSequence": 1}]
    )
    await db.message_archive.insert_one({"conversationId": "c1", "messageId": "m0"})
    await db.files.insert_one({"fileId": "f1", "userId": uid})
    await db.user_usage.insert_many([{"_id": uid, "userId": uid}, {"_id": kid, "userId": kid}])
    await db.usage_daily.insert_one({"userId": uid, "date": "2026-01-01", "model": "m"})
    await db.quota_counters.insert_many(
        [{"_id": f"{uid}|total|m", "count": 1}, {"_id": f"{kid}|total|m", "count": 1}]
    )
    result = await core.users.delete(actor=OP, user="gone@example.com")
    assert result == {
        "user": "gone@example.com",
        "conversations": 2,
        "messages": 4,
        "files": 1,
        "usage": 2,
    }
    assert await db.users.find_one({"_id": uid}) is None
    for name in ("conversations", "messages", "files", "user_usage", "usage_daily"):
        assert await db[name].count_documents({"userId": uid}) == 0
    assert await db.message_archive.count_documents({}) == 0
    assert await db.messages.count_documents({"userId": kid}) == 1
    assert [d["_id"] for d in await db.quota_counters.find({}).to_list()] == [f"{kid}|total|m"]
    entry = await db.audit.find_one({"action": "user.delete"})
    assert entry["targetId"] == uid and entry["before"]["email"] == "gone@example.com"
    with pytest.raises(NotFoundError):
        await core.users.delete(actor=OP, user="gone@example.com")


async def test_set_plan_role_unlock_are_audited_with_before_and_after(core: Core) -> None:
    user = await create_user(core, "p@example.com")
    after = await core.users.set_plan(actor=OP, user=user["_id"], plan="premium")
    assert after["subscriptionPlan"] == "premium"
    await core.users.set_role(actor=OP, user="p@example.com", role="admin")
    await core.db.users.update_one({"_id": user["_id"]}, {"$set": {"failedLoginAttempts": 7}})
    unlocked = await core.users.unlock(actor=OP, user="p@example.com")
    assert unlocked["failedLoginAttempts"] == 0 and unlocked["lockedUntil"] is None
    entries = await core.audit.list(actor=OP, target_id=user["_id"])
    by_action = {e["action"]: e for e in entries}
    assert by_action["user.set_plan"]["before"] == {"subscriptionPlan": "free"}
    assert by_action["user.set_plan"]["after"] == {"subscriptionPlan": "premium"}
    assert by_action["user.set_role"]["after"] == {"role": "admin"}
    assert by_action["user.unlock"]["before"]["failedLoginAttempts"] == 7
    assert all(e["actorId"] == "operator" and e["at"] is not None for e in entries)
    for call, kwargs, field in (
        (core.users.set_plan, {"plan": "guest"}, "plan"),
        (core.users.set_role, {"role": "superuser"}, "role"),
    ):
        with pytest.raises(ValidationError) as exc:
            await call(actor=OP, user="p@example.com", **kwargs)
        assert exc.value.field == field


async def test_guest_role_and_plan_cannot_be_changed(core: Core) -> None:
    guest = (await core.auth.guest(client_key="k", address="local")).user
    with pytest.raises(ValidationError):
        await core.users.set_plan(actor=OP, user=guest["_id"], plan="premium")
