"""StatsService: database and user statistics from what the limits service and chat store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from apsara_core.core import Core
from apsara_core.errors import (
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ValidationError,
)
from apsara_core.models import Principal
from apsara_core.repos import tallies
from tests.factories import create_user, principal_of

FLASH, PRO = "gemini-2.5-flash", "gemini-2.5-pro"
NOW = datetime(2026, 9, 15, 12, 0, tzinfo=UTC)
OPERATOR = Principal.operator()


async def add_conversation(
    core: Core,
    user: dict[str, Any],
    title: str,
    turns: int,
    when: datetime = NOW,
    model: str = FLASH,
) -> str:
    """Store a conversation and `turns` user/model message pairs the way the chat service does."""
    cid = uuid4().hex
    await core.db.conversations.insert_one(
        {
            "conversationId": cid,
            "userId": user["_id"],
            "title": title,
            "stats": {
                "messageSequence": 2 * turns,
                "totalMessages": 2 * turns,
                "totalTokens": 30 * turns,
                "lastActivity": when,
            },
            "createdAt": when,
            "updatedAt": when,
        }
    )
    docs = []
    for i in range(2 * turns):
        role = "user" if i % 2 == 0 else "model"
        docs.append(
            {
                "messageId": uuid4().hex,
                "conversationId": cid,
                "userId": user["_id"],
                "messageSequence": i + 1,
                "role": role,
                "content": {"text": f"m{i}"},
                "config": {"model": model},
                "metadata": {
                    "status": "complete",
                    "tokens": {"prompt": 10, "output": 20, "thoughts": 0, "total": 30},
                },
                "isEdited": False,
                "editHistory": [],
                "createdAt": when,
            }
        )
    if docs:
        await core.db.messages.insert_many(docs)
    await tallies.add_many(
        core.db, {"docs|conversations": {"n": 1}, "docs|messages": {"n": len(docs)}}
    )
    return cid


async def use(
    core: Core, user: dict[str, Any], model: str, ok: int, failed: int = 0, when: datetime = NOW
) -> None:
    """`ok` committed and `failed` refunded calls through the limits service at `when`."""
    core.clock.set(when)
    actor = principal_of(user)
    for _ in range(ok):
        r = await core.limits.reserve(actor=actor, model=model)
        await core.limits.commit(r, prompt_tokens=10, output_tokens=20, thoughts_tokens=5)
    for _ in range(failed):
        await core.limits.refund(await core.limits.reserve(actor=actor, model=model))


@pytest.fixture
async def world(core: Core) -> dict[str, Any]:
    core.clock.set(NOW)
    alice = await create_user(core, "alice@example.com", plan="premium", createdAt=NOW)
    bob = await create_user(core, "bob@example.com", plan="free", createdAt=NOW - timedelta(days=2))
    root = await create_user(
        core, "root@example.com", role="admin", plan="premium", createdAt=NOW - timedelta(days=40)
    )
    guest = await create_user(
        core, "guest-1@guest.local", role="guest", plan="guest", createdAt=NOW
    )
    await use(core, alice, FLASH, ok=4, failed=1)
    await use(core, alice, PRO, ok=2, when=NOW - timedelta(days=1))
    await use(core, bob, PRO, ok=5)
    with pytest.raises(RateLimitError):
        await use(core, bob, PRO, ok=1)  # refused: 5/5
    await use(core, guest, FLASH, ok=1)
    await add_conversation(core, alice, "Busy", turns=3)
    await add_conversation(core, alice, "Quiet", turns=1, when=NOW - timedelta(days=3))
    core.clock.set(NOW)
    return {"alice": alice, "bob": bob, "root": root, "guest": guest}


async def test_database_statistics(core: Core, world) -> None:
    data = await core.stats.database(actor=OPERATOR, days=7)
    assert data["period"] == {"from": "2026-09-09", "to": "2026-09-15", "days": 7}
    assert data["users"] == {
        "total": 4,
        "byPlan": {"premium": 2, "free": 1, "guest": 1},
        "byRole": {"user": 2, "admin": 1, "guest": 1},
        "byProvider": {"local": 3, "guest": 1},
    }
    regs = {r["date"]: r["count"] for r in data["registrationsPerDay"]}
    assert len(regs) == 7 and regs["2026-09-15"] == 2 and regs["2026-09-13"] == 1
    per_day = {r["date"]: r for r in data["usagePerDay"]}
    assert per_day["2026-09-15"]["messages"] == 10 and per_day["2026-09-14"]["messages"] == 2
    assert per_day["2026-09-15"]["tokens"] == 350 and per_day["2026-09-15"]["refused"] == 1
    assert per_day["2026-09-15"]["failed"] == 1 and per_day["2026-09-10"]["messages"] == 0
    assert [(m["model"], m["messages"]) for m in data["models"]] == [(PRO, 7), (FLASH, 5)]
    assert data["rateLimitRefusals"] == 1 and data["errors"] == {"failedCalls": 1}
    assert data["totals"]["messages"] == 12 and data["totals"]["conversations"] == 2
    top = data["mostActiveUsers"]
    assert [(u["email"], u["messages"]) for u in top] == [
        ("alice@example.com", 6),
        ("bob@example.com", 5),
        ("guest-1@guest.local", 1),
    ]


async def test_database_statistics_are_for_admins(core: Core, world) -> None:
    with pytest.raises(PermissionDeniedError):
        await core.stats.database(actor=principal_of(world["alice"]))


@pytest.mark.parametrize("days", [0, -3, 400, "7", 2.5, True])
async def test_bad_periods_are_refused(core: Core, days) -> None:
    with pytest.raises(ValidationError) as err:
        await core.stats.database(actor=OPERATOR, days=days)
    assert err.value.field == "days"


async def test_user_statistics_for_an_admin(core: Core, world) -> None:
    data = await core.stats.user(actor=OPERATOR, user="ALICE@example.com", days=7)
    assert data["user"]["email"] == "alice@example.com"
    assert data["conversations"]["total"] == 2
    assert [c["title"] for c in data["conversations"]["mostActive"]] == ["Busy", "Quiet"]
    assert data["messages"] == {"total": 8, "byRole": {"user": 4, "model": 4}}
    assert data["tokens"] == {"prompt": 60, "output": 120, "thoughts": 30, "total": 210}
    assert [(m["model"], m["messages"]) for m in data["models"]] == [(FLASH, 4), (PRO, 2)]
    per_day = {r["date"]: r["count"] for r in data["messagesPerDay"]}
    assert per_day["2026-09-15"] == 6 and per_day["2026-09-12"] == 2
    assert data["quota"]["dailyUsage"][FLASH] == {"count": 4, "limit": 100}
    assert data["quota"]["subscriptionPlan"] == "premium"


async def test_a_user_with_no_activity_gets_zeros(core: Core) -> None:
    user = await create_user(core, "new@example.com")
    data = await core.stats.user(actor=OPERATOR, user=user["_id"])
    assert data["messages"] == {"total": 0, "byRole": {}}
    assert data["tokens"] == {"prompt": 0, "output": 0, "thoughts": 0, "total": 0}
    assert data["quota"]["dailyUsage"][FLASH]["count"] == 0


async def test_unknown_and_hostile_users_are_not_found(core: Core) -> None:
    for key in ("nobody@example.com", "0" * 24, {"$ne": None}):
        with pytest.raises(NotFoundError):
            await core.stats.user(actor=OPERATOR, user=key)


async def test_non_admins_need_their_password_and_see_only_themselves(core: Core) -> None:
    created = await core.users.create(
        actor=OPERATOR,
        email="carol@example.com",
        full_name="Carol",
        password="correct horse battery",
    )
    carol = Principal(user_id=created["_id"], role="user", plan="free", email=created["email"])
    other = await create_user(core, "dave@example.com")
    with pytest.raises(AuthenticationError) as missing:
        await core.stats.user(actor=carol)
    assert missing.value.field == "password"
    with pytest.raises(AuthenticationError):
        await core.stats.user(actor=carol, password="wrong password!")
    data = await core.stats.user(actor=carol, password="correct horse battery")
    assert data["user"]["email"] == "carol@example.com"
    with pytest.raises(NotFoundError):  # another user's statistics: same as unknown
        await core.stats.user(actor=carol, user=other["email"], password="correct horse battery")
    locked = await core.db.users.find_one({"_id": created["_id"]})
    assert not locked.get("failedLoginAttempts")  # no lockout side effects
