"""The maintained counters the operator views read: they follow every write they count."""

from __future__ import annotations

from apsara_core.core import Core
from apsara_core.models import Principal
from tests.factories import create_user, principal_of

OPERATOR = Principal.operator()


async def test_counters_follow_users_and_conversations(core: Core) -> None:
    made = await core.users.create(actor=OPERATOR, email="a@example.com", full_name="A")
    await create_user(core, "b@example.com", plan="premium")
    await core.users.set_role(actor=OPERATOR, user="a@example.com", role="admin")
    stats = await core.stats.database(actor=OPERATOR, days=1)
    assert stats["users"] == {
        "total": 2,
        "byPlan": {"free": 1, "premium": 1},
        "byRole": {"admin": 1, "user": 1},
        "byProvider": {"local": 2},
    }
    assert stats["registrationsPerDay"][-1]["count"] == 2
    actor = principal_of({**made, "role": "admin"})
    conv = await core.conversations.create(actor=actor, title="One")
    await core.conversations.create(actor=actor, title="Two")
    await core.conversations.delete(actor=actor, conversation_id=conv["conversationId"])
    assert (await core.stats.database(actor=OPERATOR))["totals"]["conversations"] == 1
    await core.users.delete(actor=OPERATOR, user="a@example.com")
    after = await core.stats.database(actor=OPERATOR)
    assert after["users"]["total"] == 1 and after["totals"]["conversations"] == 0
