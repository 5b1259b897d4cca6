"""`core.seed`: demo data in the services' shapes, counted, refused on real users."""

from __future__ import annotations

import pytest

from apsara_core.core import Core
from apsara_core.errors import ConflictError, PermissionDeniedError, ValidationError
from apsara_core.models import Principal
from apsara_core.services.seed import SeedSize
from tests.factories import create_user

OPERATOR = Principal.operator()


async def test_seed_writes_what_the_views_read(core: Core) -> None:
    seen: list[tuple[int, int]] = []
    size = SeedSize(users=30, conversations_per_user=2, messages_per_conversation=4, days=5)
    out = await core.seed.seed(actor=OPERATOR, size=size, progress=lambda d, t: seen.append((d, t)))
    assert out["written"] == {"users": 30, "conversations": 60, "messages": 240}
    assert seen[-1] == (330, 330)
    user = await core.db.users.find_one({})
    assert user is not None and user["seeded"] and "password" not in user
    conv = await core.conversations.list(actor=OPERATOR, everyone=True, limit=100)
    assert len(conv) == 60 and all(c["stats"]["messageSequence"] == 4 for c in conv)
    page = await core.conversations.messages(
        actor=OPERATOR, conversation_id=conv[0]["conversationId"]
    )
    assert [m["role"] for m in page] == ["user", "model", "user", "model"]
    stats = await core.stats.database(actor=OPERATOR, days=5)
    assert stats["users"]["total"] == 30
    assert stats["totals"]["messages"] == 120  # the model replies are the committed messages
    assert sum(d["count"] for d in stats["registrationsPerDay"]) == 30


async def test_seed_refuses_real_users_unless_forced(core: Core) -> None:
    await create_user(core, "real@example.com")
    size = SeedSize(users=2, conversations_per_user=0)
    with pytest.raises(ConflictError) as caught:
        await core.seed.seed(actor=OPERATOR, size=size, progress=None)
    assert caught.value.field == "force"
    assert await core.db.users.count_documents({}) == 1
    await core.seed.seed(actor=OPERATOR, size=size, force=True, progress=None)
    assert await core.db.users.count_documents({}) == 3


async def test_seed_checks_size_and_actor(core: Core) -> None:
    with pytest.raises(ValidationError) as caught:
        await core.seed.seed(actor=OPERATOR, size=SeedSize(users=0), progress=None)
    assert caught.value.field == "users"
    user = Principal(user_id="u1", role="user", plan="free", email="u@example.com")
    with pytest.raises(PermissionDeniedError):
        await core.seed.seed(actor=user, size=SeedSize(users=1), progress=None)


async def test_a_fresh_databases_seed_builds_the_indexes_after_its_inserts(core: Core) -> None:
    from apsara_core.db.schema import COLLECTIONS, fingerprint

    wanted = {c.name: len(c.indexes) + 1 for c in COLLECTIONS}  # with `_id`'s
    await core.seed.seed(actor=OPERATOR, size=SeedSize(users=12, days=2), progress=None)
    for name in ("users", "conversations", "messages", "usage_daily"):
        assert len(await core.db[name].index_information()) == wanted[name], name
    assert (await core.db.meta.find_one({"_id": "schema"}))["fingerprint"] == fingerprint()
    with pytest.raises(Exception, match="(?i)duplicate"):  # the unique email index is back
        user = await core.db.users.find_one({})
        await core.db.users.insert_one({"email": user["email"]})


async def test_a_seed_interrupted_before_the_build_leaves_the_schema_to_the_next_start(
    core: Core,
) -> None:
    from apsara_core.db.schema import ensure_schema
    from apsara_core.repos import seed as seed_repo

    await seed_repo.drop_secondary_indexes(core.db)  # as a seed that stopped half-way
    assert set(await core.db.messages.index_information()) == {"_id_"}
    await ensure_schema(core.db, now=core.clock.now())  # the next start
    assert len(await core.db.messages.index_information()) == 4
