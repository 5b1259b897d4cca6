"""Collections and indexes are created at start, idempotently, and reported by db info."""

from __future__ import annotations

import asyncio

import pytest
from pymongo.errors import DuplicateKeyError

from apsara_core.core import Core
from apsara_core.db.schema import COLLECTIONS, SCHEMA_VERSION, ensure_schema
from apsara_core.services.sessions import OPERATOR
from tests.factories import create_user, principal_of


async def _index_sets(core: Core) -> dict[str, set[str]]:
    return {c.name: set(await core.db[c.name].index_information()) for c in COLLECTIONS}


async def test_schema_created_once_and_idempotent(core: Core) -> None:
    before = await _index_sets(core)
    assert "email_1" in before["users"]
    assert "conversationId_1_messageSequence_1" in before["messages"]
    assert await ensure_schema(core.db, now=core.clock.now(), force=True) == SCHEMA_VERSION
    await asyncio.gather(
        *(ensure_schema(core.db, now=core.clock.now(), force=True) for _ in range(3))
    )
    assert await _index_sets(core) == before


async def test_unique_indexes_hold(core: Core) -> None:
    await core.db.users.insert_one({"email": "a@example.com"})
    with pytest.raises(DuplicateKeyError):
        await core.db.users.insert_one({"email": "a@example.com"})
    # googleId is unique only where present
    await core.db.users.insert_one({"email": "b@example.com"})
    await core.db.users.insert_one({"email": "c@example.com", "googleId": "g1"})
    with pytest.raises(DuplicateKeyError):
        await core.db.users.insert_one({"email": "d@example.com", "googleId": "g1"})
    await core.db.messages.insert_one(
        {"messageId": "m1", "conversationId": "c", "messageSequence": 1}
    )
    with pytest.raises(DuplicateKeyError):
        await core.db.messages.insert_one(
            {"messageId": "m2", "conversationId": "c", "messageSequence": 1}
        )


async def test_db_info_lists_collections_counts_and_indexes(core: Core) -> None:
    for i in range(3):  # counted as the services count them (repos/tallies.py)
        await create_user(core, f"u{i}@example.com")
    info = await core.dbinfo.info(actor=OPERATOR)
    assert info["schemaVersion"] == SCHEMA_VERSION
    assert info["server"]["embedded"] is False
    by_name = {c["name"]: c for c in info["collections"]}
    for wanted in (
        "users",
        "user_usage",
        "conversations",
        "messages",
        "files",
        "otps",
        "revoked_tokens",
        "jobs",
        "audit",
    ):
        assert wanted in by_name
    assert by_name["users"]["documents"] == 3
    # the test server is the embedded one (reached by URI): no scan for uncounted collections
    assert by_name["otps"]["documents"] is None and by_name["audit"]["documents"] is None
    email = next(i for i in by_name["users"]["indexes"] if i["keys"] == {"email": 1})
    assert email["unique"] is True
    otp_ttl = [i for i in by_name["otps"]["indexes"] if "ttlSeconds" in i]
    assert otp_ttl and otp_ttl[0]["keys"] == {"expiresAt": 1}


async def test_version_1_data_is_keyed_by_public_ids_and_still_works(core: Core) -> None:
    """A database written by schema 1 (generated _ids, unique conversationId / userId indexes)
    is migrated at start, by two processes at once: same documents, new keys, fewer indexes."""
    actor = principal_of(await create_user(core, "old@example.com"))
    db = core.db
    await db.conversations.drop()
    await db.user_usage.drop()
    await db.conversations.create_index("conversationId", unique=True)
    await db.conversations.create_index([("updatedAt", -1)])
    await db.user_usage.create_index("userId", unique=True)
    await db.conversations.insert_one(
        {
            "conversationId": "conv_old",
            "userId": actor.user_id,
            "title": "Before the upgrade",
            "config": {},
            "stats": {"messageSequence": 0, "totalMessages": 0, "totalTokens": 0},
        }
    )
    await db.user_usage.insert_one({"userId": actor.user_id, "totalUsage": {"totalMessages": 7}})
    await db.users.update_many({}, {"$unset": {"searchWords": ""}})  # written before version 4
    await db.meta.update_one({"_id": "schema"}, {"$set": {"version": 1, "fingerprint": "old"}})

    now = core.clock.now()
    await asyncio.gather(ensure_schema(db, now=now), ensure_schema(db, now=now))

    conv = await db.conversations.find_one({})
    assert conv["_id"] == "conv_old" and conv["title"] == "Before the upgrade"
    assert conv["searchWords"] == ["before", "the", "upgrade"]  # version 4 fills them
    assert (await db.users.find_one({}))["searchWords"] == ["old", "example", "com", "test", "user"]
    assert await db.conversations.count_documents({}) == 1
    assert (await db.user_usage.find_one({}))["_id"] == actor.user_id
    assert set(await db.conversations.index_information()) == {
        "_id_",
        "userId_1_updatedAt_-1",
        "updatedAt_-1",
        "searchWords_1",
    }
    assert set(await db.user_usage.index_information()) == {"_id_", "ranks.score_-1"}
    assert (await db.meta.find_one({"_id": "schema"}))["version"] == SCHEMA_VERSION
    got = await core.conversations.get(actor=actor, conversation_id="conv_old")
    assert got["title"] == "Before the upgrade"
    info = await core.limits.quota(actor=actor)
    assert info["totalUsage"]["totalMessages"] == 7


async def test_db_info_counts_uncounted_collections_by_metadata_off_the_embedded_server(
    core: Core,
) -> None:
    from apsara_core.services.dbinfo import _count

    await core.db.otps.insert_one({"email": "a@example.com", "purpose": "reset"})
    assert await _count(core.db, "otps", {}, scans=False) == 1
    assert await _count(core.db, "otps", {}, scans=True) is None
    assert await _count(core.db, "users", {"users": 5}, scans=True) == 5
