"""ConversationService on the embedded server: ownership, admins, stats, export, windows."""

from __future__ import annotations

import json

import pytest

from apsara_core.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from apsara_core.models import Principal
from apsara_core.repos import messages as msg_repo
from apsara_core.services import chat_store
from tests.factories import create_user, principal_of


async def user(core, email="u@example.com", **kw) -> Principal:
    return principal_of(await create_user(core, email, **kw))


async def seed(core, cid: str, owner: str, n: int) -> None:
    for i in range(n):
        await chat_store.append(core.db, {
            "messageId": msg_repo.new_message_id(), "conversationId": cid, "userId": owner,
            "role": "user" if i % 2 == 0 else "model", "content": {"text": f"m{i + 1}"},
            "config": {}, "metadata": {"status": "complete"}, "isEdited": False, "editHistory": [],
            "createdAt": core.clock.now()})


async def test_create_returns_the_stored_document(core):
    actor = await user(core)
    conv = await core.conversations.create(actor=actor, title="  Hello  ", system_instruction="Be kind")
    assert conv["conversationId"].startswith("conv_") and conv["title"] == "Hello"
    assert conv["userId"] == actor.user_id
    assert conv["config"] == {"rest": {"systemInstruction": "Be kind"}}
    assert conv["stats"]["messageSequence"] == 0 and conv["stats"]["totalMessages"] == 0
    stored = await core.db.conversations.find_one({"conversationId": conv["conversationId"]}, {"_id": 0})
    assert stored == conv
    usage = await core.db.user_usage.find_one({"userId": actor.user_id})
    assert usage["totalUsage"]["totalConversations"] == 1


@pytest.mark.parametrize("kwargs, field", [
    ({"title": ""}, "title"), ({"title": "   "}, "title"), ({"title": "x" * 201}, "title"),
    ({"title": {"$ne": None}}, "title"), ({"title": "ok", "system_instruction": 5}, "systemInstruction"),
])
async def test_create_bad_input(core, kwargs, field):
    actor = await user(core)
    with pytest.raises(ValidationError) as info:
        await core.conversations.create(actor=actor, **kwargs)
    assert info.value.field == field
    assert await core.db.conversations.count_documents({}) == 0


async def test_owners_see_theirs_admins_see_all(core):
    alice, bob = await user(core, "a@example.com"), await user(core, "b@example.com")
    admin = await user(core, "admin@example.com", role="admin")
    ca = await core.conversations.create(actor=alice, title="A")
    await core.conversations.create(actor=bob, title="B")
    assert [c["title"] for c in await core.conversations.list(actor=alice)] == ["A"]
    assert {c["title"] for c in await core.conversations.list(actor=admin)} == {"A", "B"}
    assert [c["title"] for c in await core.conversations.list(actor=admin, user_id=bob.user_id)] == ["B"]
    with pytest.raises(PermissionDeniedError):
        await core.conversations.list(actor=alice, user_id=bob.user_id)
    for call in (core.conversations.get, core.conversations.delete, core.conversations.branches,
                 core.conversations.messages):
        with pytest.raises(NotFoundError):
            await call(actor=bob, conversation_id=ca["conversationId"])
    with pytest.raises(NotFoundError):
        await core.conversations.get(actor=alice, conversation_id="conv_unknown")
    assert (await core.conversations.get(actor=admin, conversation_id=ca["conversationId"]))["title"] == "A"
    with pytest.raises(ValidationError):
        await core.conversations.list(actor=alice, limit=0)


async def test_update_title_and_system_instruction_until_first_message(core):
    actor = await user(core)
    cid = (await core.conversations.create(actor=actor, title="T"))["conversationId"]
    conv = await core.conversations.update(actor=actor, conversation_id=cid, title="New",
                                           system_instruction="Speak French")
    assert conv["title"] == "New" and conv["config"]["rest"]["systemInstruction"] == "Speak French"
    await seed(core, cid, actor.user_id, 1)
    with pytest.raises(ConflictError) as info:
        await core.conversations.update(actor=actor, conversation_id=cid, system_instruction="Other")
    assert "fixed" in info.value.message
    conv = await core.conversations.update(actor=actor, conversation_id=cid, title="Renamed")
    assert conv["title"] == "Renamed" and conv["config"]["rest"]["systemInstruction"] == "Speak French"


async def test_messages_window_and_paging_back(core):
    actor = await user(core)
    cid = (await core.conversations.create(actor=actor, title="T"))["conversationId"]
    await seed(core, cid, actor.user_id, 30)
    newest = await core.conversations.messages(actor=actor, conversation_id=cid, limit=10)
    assert [m["messageSequence"] for m in newest] == list(range(21, 31))
    older = await core.conversations.messages(actor=actor, conversation_id=cid, before_sequence=21, limit=10)
    assert [m["messageSequence"] for m in older] == list(range(11, 21))
    first = await core.conversations.messages(actor=actor, conversation_id=cid, before_sequence=4, limit=10)
    assert [m["messageSequence"] for m in first] == [1, 2, 3]


async def test_window_widens_over_archived_gaps(core):
    actor = await user(core)
    cid = (await core.conversations.create(actor=actor, title="T"))["conversationId"]
    await seed(core, cid, actor.user_id, 20)
    await core.db.messages.delete_many({"conversationId": cid, "messageSequence": {"$gt": 10, "$lte": 18}})
    got = await core.conversations.messages(actor=actor, conversation_id=cid, limit=5)
    assert [m["messageSequence"] for m in got] == [8, 9, 10, 19, 20]


async def test_delete_one_and_delete_all(core):
    alice, bob = await user(core, "a@example.com"), await user(core, "b@example.com")
    admin = await user(core, "admin@example.com", role="admin")
    a1 = (await core.conversations.create(actor=alice, title="A1"))["conversationId"]
    a2 = (await core.conversations.create(actor=alice, title="A2"))["conversationId"]
    b1 = (await core.conversations.create(actor=bob, title="B1"))["conversationId"]
    for cid, who in ((a1, alice), (a2, alice), (b1, bob)):
        await seed(core, cid, who.user_id, 3)
    assert await core.conversations.delete(actor=alice, conversation_id=a1) == {"conversations": 1, "messages": 3}
    assert await core.db.messages.count_documents({"conversationId": a1}) == 0
    with pytest.raises(PermissionDeniedError):
        await core.conversations.delete_all(actor=alice, user_id=bob.user_id)
    assert await core.conversations.delete_all(actor=admin, user_id=alice.user_id) == {
        "conversations": 1, "messages": 3}
    assert await core.conversations.delete_all(actor=bob) == {"conversations": 1, "messages": 3}
    assert await core.db.conversations.count_documents({}) == 0
    assert await core.conversations.delete_all(actor=bob) == {"conversations": 0, "messages": 0}


async def test_export_json_and_markdown(core):
    actor = await user(core)
    cid = (await core.conversations.create(actor=actor, title="Trip", system_instruction="Be brief"))[
        "conversationId"]
    await seed(core, cid, actor.user_id, 2)
    data = json.loads(await core.conversations.export(actor=actor, conversation_id=cid))
    assert data["conversation"]["title"] == "Trip"
    assert [m["content"]["text"] for m in data["messages"]] == ["m1", "m2"]
    md = await core.conversations.export(actor=actor, conversation_id=cid, fmt="markdown")
    assert md.startswith("# Trip") and "Be brief" in md and "## User (#1)" in md and "m2" in md
    with pytest.raises(ValidationError):
        await core.conversations.export(actor=actor, conversation_id=cid, fmt="pdf")
