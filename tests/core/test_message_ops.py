"""Deleting one message and searching a conversation's text, through the core."""

from __future__ import annotations

import pytest

from apsara_core.errors import ConflictError, NotFoundError, ValidationError
from apsara_core.repos import tallies
from tests.core.chat_helpers import new_conv, premium, stored, used
from tests.factories import create_user, principal_of


async def turns(core, actor, cid, *texts):
    return [await core.chat.generate(actor=actor, conversation_id=cid, text=t) for t in texts]


async def message_counts(core, cid):
    conv = await core.db.conversations.find_one({"_id": cid})
    counted = (await tallies.docs(core.db, ["messages"])).get("messages", 0)
    return conv["stats"]["totalMessages"], counted, await core.db.messages.count_documents({})


async def test_deleting_a_reply_removes_only_it_and_keeps_counts_exact(chat_core, fake_gemini):
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor)
    a, b = await turns(chat_core, actor, cid, "one", "two")
    quota = await used(chat_core, actor)
    out = await chat_core.messages.delete_message(
        actor=actor, conversation_id=cid, message_id=a["modelMessageId"]
    )
    assert out["deleted"] == [
        {"messageId": a["modelMessageId"], "messageSequence": 2, "role": "model"}
    ]
    assert out["messages"] == 3
    assert [m["messageSequence"] for m in await stored(chat_core, cid)] == [1, 3, 4]
    assert await message_counts(chat_core, cid) == (3, 3, 3)
    assert await used(chat_core, actor) == quota  # spent quota stays spent


async def test_a_user_message_with_a_reply_goes_only_with_it(chat_core, fake_gemini):
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor)
    a, b = await turns(chat_core, actor, cid, "one", "two")
    with pytest.raises(ConflictError) as err:
        await chat_core.messages.delete_message(
            actor=actor, conversation_id=cid, message_id=b["userMessageId"]
        )
    assert err.value.field == "withReply" and "reply #4" in str(err.value)
    assert len(await stored(chat_core, cid)) == 4  # nothing went
    out = await chat_core.messages.delete_message(
        actor=actor, conversation_id=cid, message_id=b["userMessageId"], with_reply=True
    )
    assert [d["messageSequence"] for d in out["deleted"]] == [3, 4]
    assert await message_counts(chat_core, cid) == (2, 2, 2)
    # the conversation goes on after the highest sequence ever used
    (c,) = await turns(chat_core, actor, cid, "three")
    assert c["messageSequence"] == 6


async def test_a_user_message_without_a_reply_goes_alone(chat_core, fake_gemini):
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor)
    (a,) = await turns(chat_core, actor, cid, "one")
    await chat_core.messages.delete_message(
        actor=actor, conversation_id=cid, message_id=a["modelMessageId"]
    )
    await chat_core.messages.delete_message(
        actor=actor, conversation_id=cid, message_id=a["userMessageId"]
    )
    assert await stored(chat_core, cid) == []
    assert await message_counts(chat_core, cid) == (0, 0, 0)


async def test_delete_is_for_the_owner_or_an_admin(chat_core, fake_gemini):
    actor = await premium(chat_core)
    other = await premium(chat_core, "other@example.com")
    admin = principal_of(await create_user(chat_core, "admin@example.com", role="admin"))
    cid = await new_conv(chat_core, actor)
    (a,) = await turns(chat_core, actor, cid, "one")
    with pytest.raises(NotFoundError) as err:
        await chat_core.messages.delete_message(
            actor=other, conversation_id=cid, message_id=a["modelMessageId"]
        )
    assert err.value.field == "conversationId"
    with pytest.raises(NotFoundError) as err:
        await chat_core.messages.delete_message(
            actor=actor, conversation_id=cid, message_id="msg_nope"
        )
    assert err.value.field == "messageId"
    with pytest.raises(ValidationError):
        await chat_core.messages.delete_message(
            actor=actor, conversation_id=cid, message_id={"$ne": 1}
        )
    await chat_core.messages.delete_message(
        actor=admin, conversation_id=cid, message_id=a["modelMessageId"]
    )
    assert len(await stored(chat_core, cid)) == 1


async def test_versions_that_continued_a_deleted_message_stay_reachable(chat_core, fake_gemini):
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor)
    a, b = await turns(chat_core, actor, cid, "one", "two")
    r = await chat_core.chat.regenerate(actor=actor, conversation_id=cid)  # fork after b's prompt
    await chat_core.messages.delete_message(
        actor=actor, conversation_id=cid, message_id=r["modelMessageId"]
    )
    await chat_core.messages.delete_message(
        actor=actor, conversation_id=cid, message_id=b["userMessageId"]
    )
    (fork,) = await chat_core.messages.versions(actor=actor, conversation_id=cid)
    assert fork["parentId"] == a["modelMessageId"] and fork["messageId"] is None
    assert fork["current"] is None and len(fork["versions"]) == 1
    out = await chat_core.messages.switch_version(
        actor=actor, conversation_id=cid, message_id=a["modelMessageId"], to_version=1
    )
    assert out["switched"] and out["messageId"] == b["modelMessageId"]
    seqs = [m["messageSequence"] for m in await stored(chat_core, cid)]
    assert seqs == [1, 2, 4]


async def test_search_finds_messages_by_text_with_their_numbers(chat_core, fake_gemini):
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor)
    await turns(chat_core, actor, cid, "Trip to Lisbon", "hotels (cheap?) in lisbon", "food")
    out = await chat_core.messages.search_messages(actor=actor, conversation_id=cid, query="LISBON")
    assert [(i["messageSequence"], i["role"]) for i in out["items"]] == [  # newest first
        (4, "model"),
        (3, "user"),
        (2, "model"),
        (1, "user"),
    ]
    assert out["hasMore"] is False and "Lisbon" in out["items"][-1]["snippet"]
    special = await chat_core.messages.search_messages(
        actor=actor, conversation_id=cid, query="(cheap?)"
    )
    assert [i["messageSequence"] for i in special["items"]] == [4, 3]  # literal, not a regex
    first = await chat_core.messages.search_messages(
        actor=actor, conversation_id=cid, query="lisbon", limit=3
    )
    second = await chat_core.messages.search_messages(
        actor=actor, conversation_id=cid, query="lisbon", limit=3, page=2
    )
    assert first["hasMore"] and [i["messageSequence"] for i in first["items"]] == [4, 3, 2]
    assert not second["hasMore"] and [i["messageSequence"] for i in second["items"]] == [1]
    none = await chat_core.messages.search_messages(actor=actor, conversation_id=cid, query="xyz")
    assert none["items"] == []


async def test_search_sees_only_live_messages_and_checks_its_input(chat_core, fake_gemini):
    actor = await premium(chat_core)
    other = await premium(chat_core, "other@example.com")
    cid = await new_conv(chat_core, actor)
    (a,) = await turns(chat_core, actor, cid, "alpha")
    await chat_core.chat.edit(
        actor=actor, conversation_id=cid, message_id=a["userMessageId"], new_text="beta"
    )
    out = await chat_core.messages.search_messages(actor=actor, conversation_id=cid, query="alpha")
    assert out["items"] == []  # the old version is archived
    for field, kw in (
        ("query", {"query": ""}),
        ("query", {"query": "x" * 201}),
        ("query", {"query": {"$regex": "."}}),
        ("page", {"query": "a", "page": 0}),
        ("limit", {"query": "a", "limit": 101}),
    ):
        with pytest.raises(ValidationError) as err:
            await chat_core.messages.search_messages(actor=actor, conversation_id=cid, **kw)
        assert err.value.field == field
    with pytest.raises(NotFoundError):
        await chat_core.messages.search_messages(actor=other, conversation_id=cid, query="beta")


async def test_search_reads_a_long_conversation_in_windows(chat_core, fake_gemini):
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor)
    start = chat_core.clock.now()
    docs = [
        {
            "messageId": f"msg_{n}",
            "conversationId": cid,
            "userId": actor.user_id,
            "messageSequence": n,
            "role": "user" if n % 2 else "model",
            "content": {"text": "needle" if n % 100 == 0 else f"hay {n}"},
            "createdAt": start,
        }
        for n in range(1, 2001)
    ]
    await chat_core.db.messages.insert_many(docs)
    await chat_core.db.conversations.update_one(
        {"_id": cid}, {"$set": {"stats.messageSequence": 2000, "stats.totalMessages": 2000}}
    )
    page = await chat_core.messages.search_messages(
        actor=actor, conversation_id=cid, query="needle", limit=3
    )
    assert [i["messageSequence"] for i in page["items"]] == [2000, 1900, 1800]
    assert page["hasMore"]
    last = await chat_core.messages.search_messages(
        actor=actor, conversation_id=cid, query="needle", limit=3, page=7
    )
    assert [i["messageSequence"] for i in last["items"]] == [200, 100] and not last["hasMore"]


def test_snippet_centres_the_match():
    from apsara_core.services.messages import snippet

    text = "x" * 200 + " needle " + "y" * 200
    cut = snippet(text, "NEEDLE")
    assert "needle" in cut and cut.startswith("…") and cut.endswith("…")
    assert snippet("short text", "text") == "short text"
