"""Edit, regenerate, branches and restore, through the real SDK and the fake."""

from __future__ import annotations

import pytest

from apsara_core.errors import ApsaraError, NotFoundError, ValidationError
from tests.core.chat_helpers import new_conv, premium, stored, used


async def two_turns(core, actor, cid):
    a = await core.chat.generate(actor=actor, conversation_id=cid, text="first")
    b = await core.chat.generate(actor=actor, conversation_id=cid, text="second")
    return a, b


def texts(msgs):
    return [(m["role"], m["content"]["text"]) for m in msgs]


async def test_edit_archives_later_messages_and_generates_a_new_reply(chat_core, fake_gemini):
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor)
    a, b = await two_turns(chat_core, actor, cid)
    r = await chat_core.chat.edit(
        actor=actor, conversation_id=cid, message_id=a["userMessageId"], new_text="first, edited"
    )
    assert r["text"] == "Echo: first, edited (turns=1)" and r["branchId"]
    assert r["userMessageId"] == a["userMessageId"]
    msgs = await stored(chat_core, cid)
    assert texts(msgs) == [("user", "first, edited"), ("model", "Echo: first, edited (turns=1)")]
    edited = msgs[0]
    assert edited["isEdited"] is True and edited["editHistory"][0]["text"] == "first"
    assert msgs[1]["messageSequence"] == 5  # sequences keep growing; archived ones leave a gap
    (branch,) = await chat_core.conversations.branches(actor=actor, conversation_id=cid)
    assert branch["branchId"] == r["branchId"] and branch["reason"] == "edit"
    assert texts(branch["messages"]) == [
        ("user", "first"),
        ("model", a["text"]),
        ("user", "second"),
        ("model", b["text"]),
    ]
    conv = await chat_core.conversations.get(actor=actor, conversation_id=cid)
    assert conv["stats"]["totalMessages"] == 2 and conv["stats"]["messageSequence"] == 5
    assert await used(chat_core, actor) == 3


async def test_restore_brings_the_branch_back_and_archives_the_replacement(chat_core, fake_gemini):
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor)
    a, b = await two_turns(chat_core, actor, cid)
    before = texts(await stored(chat_core, cid))
    r = await chat_core.chat.edit(
        actor=actor, conversation_id=cid, message_id=b["userMessageId"], new_text="other second"
    )
    assert r["text"] == "Echo: other second (turns=3)"
    out = await chat_core.conversations.restore_branch(
        actor=actor, conversation_id=cid, branch_id=r["branchId"]
    )
    assert out["restored"] == 2 and out["replacedBy"]
    assert texts(await stored(chat_core, cid)) == before
    (branch,) = await chat_core.conversations.branches(actor=actor, conversation_id=cid)
    assert branch["branchId"] == out["replacedBy"] and branch["reason"] == "restore"
    assert texts(branch["messages"]) == [("user", "other second"), ("model", r["text"])]
    conv = await chat_core.conversations.get(actor=actor, conversation_id=cid)
    assert conv["stats"]["totalMessages"] == 4
    # the next message continues after the highest sequence ever used
    nxt = await chat_core.chat.generate(actor=actor, conversation_id=cid, text="third")
    assert nxt["messageSequence"] == 7 and nxt["text"] == "Echo: third (turns=5)"


async def test_regenerate_last_keeps_the_previous_reply_as_a_version(chat_core, fake_gemini):
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor)
    a, b = await two_turns(chat_core, actor, cid)
    r = await chat_core.chat.regenerate(
        actor=actor, conversation_id=cid, model="gemini-2.5-pro", config={"temperature": 0.2}
    )
    assert r["regeneratedMessageId"] == b["modelMessageId"] and r["text"] == b["text"]
    assert r["userMessageId"] == b["userMessageId"]
    msgs = await stored(chat_core, cid)
    assert [m["messageSequence"] for m in msgs] == [1, 2, 3, 5]
    assert msgs[-1]["config"] == {"model": "gemini-2.5-pro", "temperature": 0.2}
    (branch,) = await chat_core.conversations.branches(actor=actor, conversation_id=cid)
    assert branch["reason"] == "regenerate"
    assert [m["messageId"] for m in branch["messages"]] == [b["modelMessageId"]]


async def test_regenerate_a_specific_reply_archives_it_and_what_follows(chat_core, fake_gemini):
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor)
    a, b = await two_turns(chat_core, actor, cid)
    r = await chat_core.chat.regenerate(
        actor=actor, conversation_id=cid, message_id=a["modelMessageId"]
    )
    assert r["text"] == "Echo: first (turns=1)"
    assert texts(await stored(chat_core, cid)) == [("user", "first"), ("model", r["text"])]
    (branch,) = await chat_core.conversations.branches(actor=actor, conversation_id=cid)
    assert [m["messageId"] for m in branch["messages"]] == [
        a["modelMessageId"],
        b["userMessageId"],
        b["modelMessageId"],
    ]


async def test_regenerate_after_a_tool_message(chat_core, fake_gemini):
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor)
    await chat_core.chat.generate(actor=actor, conversation_id=cid, text="compute")
    # a plugin stores its result as a tool message (the plugins issue writes these)
    from apsara_core.services import chat_store

    tool = await chat_store.append(
        chat_core.db,
        {
            "messageId": "msg_tool1",
            "conversationId": cid,
            "userId": actor.user_id,
            "role": "tool",
            "content": {"text": "calculator -> 105"},
            "config": {},
            "metadata": {"status": "complete"},
            "isEdited": False,
            "editHistory": [],
            "createdAt": chat_core.clock.now(),
        },
    )
    first = await chat_core.chat.regenerate(actor=actor, conversation_id=cid)
    assert first["userMessageId"] == tool["messageId"] and first["branchId"] is None
    assert first["text"] == "Echo: [tool result] calculator -> 105 (turns=3)"
    again = await chat_core.chat.regenerate(actor=actor, conversation_id=cid)
    assert again["regeneratedMessageId"] == first["modelMessageId"] and again["branchId"]


async def test_regenerate_with_a_user_or_tool_message_id_replaces_the_reply_after_it(
    chat_core, fake_gemini
):
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor)
    a, b = await two_turns(chat_core, actor, cid)
    r = await chat_core.chat.regenerate(
        actor=actor, conversation_id=cid, message_id=a["userMessageId"]
    )
    assert r["regeneratedMessageId"] == a["modelMessageId"] and r["branchId"]
    assert r["userMessageId"] == a["userMessageId"]
    assert texts(await stored(chat_core, cid)) == [
        ("user", "first"),
        ("model", "Echo: first (turns=1)"),
    ]


async def test_edit_and_regenerate_stream_events(chat_core, fake_gemini):
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor)
    a, _ = await two_turns(chat_core, actor, cid)
    events = [
        e
        async for e in chat_core.chat.stream_edit(
            actor=actor,
            conversation_id=cid,
            message_id=a["userMessageId"],
            new_text="streamed edit",
            config={"thinkingConfig": {"includeThoughts": True}},
        )
    ]
    assert {e.kind for e in events} == {"started", "thought", "text", "usage", "done"}
    assert events[0].kind == "started" and events[0].data["editedMessageId"] == a["userMessageId"]
    events = [e async for e in chat_core.chat.stream_regenerate(actor=actor, conversation_id=cid)]
    assert events[-1].kind == "done" and events[-1].data["branchId"]


async def test_edit_bad_input_writes_nothing(chat_core, fake_gemini):
    actor = await premium(chat_core)
    other = await premium(chat_core, "other@example.com")
    cid = await new_conv(chat_core, actor)
    a, _ = await two_turns(chat_core, actor, cid)
    before = await stored(chat_core, cid)
    calls = len(fake_gemini.requests)
    cases = [
        ({"message_id": a["modelMessageId"], "new_text": "x"}, ValidationError, "messageId"),
        ({"message_id": a["userMessageId"], "new_text": "  "}, ValidationError, "newText"),
        ({"message_id": a["userMessageId"], "new_text": " first\n"}, ValidationError, "newText"),
        ({"message_id": a["userMessageId"], "new_text": "x" * 100_001}, Exception, "newText"),
        ({"message_id": "msg_nope", "new_text": "x"}, NotFoundError, "messageId"),
        ({"message_id": {"$gt": ""}, "new_text": "x"}, ValidationError, "messageId"),
        (
            {"message_id": a["userMessageId"], "new_text": "x", "config": {"topK": 0}},
            ValidationError,
            "config.topK",
        ),
    ]
    for kwargs, error, field in cases:
        with pytest.raises(error) as info:
            await chat_core.chat.edit(actor=actor, conversation_id=cid, **kwargs)
        assert info.value.field == field
    with pytest.raises(NotFoundError):
        await chat_core.chat.edit(
            actor=other, conversation_id=cid, message_id=a["userMessageId"], new_text="hijack"
        )
    assert await stored(chat_core, cid) == before
    assert await chat_core.conversations.branches(actor=actor, conversation_id=cid) == []
    assert len(fake_gemini.requests) == calls and await used(chat_core, actor) == 2


async def test_regenerate_bad_input(chat_core, fake_gemini):
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor)
    with pytest.raises(ValidationError) as info:
        await chat_core.chat.regenerate(actor=actor, conversation_id=cid)
    assert "no messages" in info.value.message
    await chat_core.chat.generate(actor=actor, conversation_id=cid, text="first")
    with pytest.raises(NotFoundError):
        await chat_core.chat.regenerate(actor=actor, conversation_id=cid, message_id="msg_nope")
    with pytest.raises(NotFoundError):
        await chat_core.conversations.restore_branch(
            actor=actor, conversation_id=cid, branch_id="br_nope"
        )
    assert len(await stored(chat_core, cid)) == 2 and await used(chat_core, actor) == 1


async def test_failed_regenerate_keeps_the_archive_and_refunds(chat_core, fake_gemini):
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor)
    a = await chat_core.chat.generate(actor=actor, conversation_id=cid, text="first")
    fake_gemini.script("400")
    with pytest.raises(ApsaraError):
        await chat_core.chat.regenerate(actor=actor, conversation_id=cid)
    assert texts(await stored(chat_core, cid)) == [("user", "first")]
    (branch,) = await chat_core.conversations.branches(actor=actor, conversation_id=cid)
    assert branch["messages"][0]["messageId"] == a["modelMessageId"]
    assert await used(chat_core, actor) == 1
