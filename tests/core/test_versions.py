"""The version tree over the archive, and switching versions: shapes after edit, regenerate and
restore; exactness of a switch (nothing lost or doubled, counts and quota unchanged)."""

from __future__ import annotations

import pytest

from apsara_core.errors import ConflictError, NotFoundError, ValidationError
from apsara_core.repos import tallies
from tests.core.chat_helpers import new_conv, premium, stored, used


async def turns(core, actor, cid, *texts):
    return [await core.chat.generate(actor=actor, conversation_id=cid, text=t) for t in texts]


def ids(msgs):
    return [m["messageId"] for m in msgs]


async def every_message(core, cid):
    """(live ids, archived ids): each message version once, wherever it is."""
    live = ids(await stored(core, cid))
    archived = await core.db.message_archive.find({"conversationId": cid}).to_list()
    return live, [(d["messageId"], len(d.get("editHistory") or [])) for d in archived]


async def counts_agree(core, cid):
    live = len(await stored(core, cid))
    conv = await core.db.conversations.find_one({"_id": cid})
    counted = (await tallies.docs(core.db, ["messages"])).get("messages", 0)
    total = await core.db.messages.count_documents({})
    assert conv["stats"]["totalMessages"] == live and counted == total


async def test_no_versions_in_a_straight_conversation(chat_core, fake_gemini):
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor)
    await turns(chat_core, actor, cid, "one", "two")
    assert await chat_core.messages.versions(actor=actor, conversation_id=cid) == []


async def test_an_edit_makes_two_versions_of_the_edited_message(chat_core, fake_gemini):
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor)
    a, b = await turns(chat_core, actor, cid, "one", "two")
    await chat_core.chat.edit(
        actor=actor, conversation_id=cid, message_id=b["userMessageId"], new_text="deux"
    )
    (fork,) = await chat_core.messages.versions(actor=actor, conversation_id=cid)
    assert fork["messageId"] == b["userMessageId"] and fork["parentId"] == a["modelMessageId"]
    assert fork["current"] == 2 and len(fork["versions"]) == 2
    old, new = fork["versions"]
    assert old["preview"] == "two" and old["reason"] == "edit" and old["messages"] == 2
    assert new["preview"] == "deux" and new["current"] and new["messages"] == 2


async def test_regenerating_an_earlier_reply_keeps_the_later_messages_as_version_1(
    chat_core, fake_gemini
):
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor)
    a, b, c = await turns(chat_core, actor, cid, "one", "two", "three")
    before = ids(await stored(chat_core, cid))
    quota = await used(chat_core, actor)
    r = await chat_core.chat.regenerate(
        actor=actor, conversation_id=cid, message_id=a["modelMessageId"]
    )
    (fork,) = await chat_core.messages.versions(actor=actor, conversation_id=cid)
    assert fork["messageId"] == r["modelMessageId"] and fork["current"] == 2
    assert [v["messages"] for v in fork["versions"]] == [5, 1]
    assert fork["versions"][0]["messageId"] == a["modelMessageId"]

    out = await chat_core.messages.switch_version(
        actor=actor, conversation_id=cid, message_id=r["modelMessageId"], to_version=1
    )
    assert out["switched"] and out["version"] == 1 and out["of"] == 2 and out["restored"] == 5
    assert out["messageId"] == a["modelMessageId"]
    assert ids(await stored(chat_core, cid)) == before
    (fork,) = await chat_core.messages.versions(actor=actor, conversation_id=cid)
    assert fork["messageId"] == a["modelMessageId"] and fork["current"] == 1
    assert fork["versions"][1]["messageId"] == r["modelMessageId"]
    assert fork["versions"][1]["reason"] == "switch"
    await counts_agree(chat_core, cid)
    assert await used(chat_core, actor) == quota + 1  # the regeneration only; switches are free


async def test_switching_back_and_forth_loses_and_doubles_nothing(chat_core, fake_gemini):
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor)
    a, b = await turns(chat_core, actor, cid, "one", "two")
    await chat_core.chat.regenerate(
        actor=actor, conversation_id=cid, message_id=a["modelMessageId"]
    )
    await chat_core.chat.regenerate(actor=actor, conversation_id=cid)  # a third version
    (fork,) = await chat_core.messages.versions(actor=actor, conversation_id=cid)
    assert fork["current"] == 3 and len(fork["versions"]) == 3
    live, archived = await every_message(chat_core, cid)
    everything = sorted(live + [m for m, _ in archived])
    for to in (1, 2, 3, 1, 3, 2):
        out = await chat_core.messages.switch_version(
            actor=actor, conversation_id=cid, message_id=fork["messageId"], to_version=to
        )
        (fork,) = await chat_core.messages.versions(actor=actor, conversation_id=cid)
        assert out["version"] == to and fork["current"] == to and len(fork["versions"]) == 3
        live, archived = await every_message(chat_core, cid)
        assert sorted(live + [m for m, _ in archived]) == everything
        assert len(set(live)) == len(live)
        seqs = [m["messageSequence"] for m in await stored(chat_core, cid)]
        assert seqs == sorted(seqs) and seqs[:1] == [1]
        await counts_agree(chat_core, cid)
    # version 1 is the first reply followed by the second turn
    await chat_core.messages.switch_version(
        actor=actor, conversation_id=cid, message_id=fork["messageId"], to_version=1
    )
    assert ids(await stored(chat_core, cid)) == [
        a["userMessageId"],
        a["modelMessageId"],
        b["userMessageId"],
        b["modelMessageId"],
    ]


async def test_a_nested_fork_shows_only_while_its_branch_is_current(chat_core, fake_gemini):
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor)
    a, b = await turns(chat_core, actor, cid, "one", "two")
    r = await chat_core.chat.regenerate(
        actor=actor, conversation_id=cid, message_id=a["modelMessageId"]
    )
    (c,) = await turns(chat_core, actor, cid, "three")
    await chat_core.chat.regenerate(actor=actor, conversation_id=cid)  # inner fork at c's reply
    outer, inner = await chat_core.messages.versions(actor=actor, conversation_id=cid)
    assert outer["messageId"] == r["modelMessageId"] and inner["parentId"] == c["userMessageId"]
    await chat_core.messages.switch_version(
        actor=actor, conversation_id=cid, message_id=r["modelMessageId"], to_version=1
    )
    (only,) = await chat_core.messages.versions(actor=actor, conversation_id=cid)
    assert only["current"] == 1  # the inner fork's parent is archived now: not shown
    inner_branch = inner["versions"][0]["branchId"]
    with pytest.raises(ConflictError) as err:  # restoring it alone would dangle
        await chat_core.conversations.restore_branch(
            actor=actor, conversation_id=cid, branch_id=inner_branch
        )
    assert err.value.field == "branchId"
    await chat_core.messages.switch_version(
        actor=actor, conversation_id=cid, message_id=a["modelMessageId"], to_version=2
    )
    outer2, inner2 = await chat_core.messages.versions(actor=actor, conversation_id=cid)
    assert inner2["parentId"] == c["userMessageId"] and len(inner2["versions"]) == 2
    await counts_agree(chat_core, cid)


async def test_restore_branch_and_switch_are_one_rule(chat_core, fake_gemini):
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor)
    a, b = await turns(chat_core, actor, cid, "one", "two")
    r = await chat_core.chat.edit(
        actor=actor, conversation_id=cid, message_id=a["userMessageId"], new_text="uno"
    )
    await chat_core.conversations.restore_branch(
        actor=actor, conversation_id=cid, branch_id=r["branchId"]
    )
    (fork,) = await chat_core.messages.versions(actor=actor, conversation_id=cid)
    assert fork["parentId"] is None and fork["current"] == 1
    assert [v["preview"] for v in fork["versions"]] == ["one", "uno"]
    assert fork["versions"][1]["reason"] == "restore"


async def test_switch_refuses_what_it_cannot_do(chat_core, fake_gemini):
    actor = await premium(chat_core)
    other = await premium(chat_core, "other@example.com")
    cid = await new_conv(chat_core, actor)
    a, b = await turns(chat_core, actor, cid, "one", "two")
    with pytest.raises(ValidationError, match="no other versions"):
        await chat_core.messages.switch_version(
            actor=actor, conversation_id=cid, message_id=b["modelMessageId"], to_version=1
        )
    with pytest.raises(NotFoundError):
        await chat_core.messages.switch_version(
            actor=actor, conversation_id=cid, message_id="msg_nope", to_version=1
        )
    r = await chat_core.chat.regenerate(actor=actor, conversation_id=cid)
    for bad in (0, 3, "1", True):
        with pytest.raises(ValidationError) as err:
            await chat_core.messages.switch_version(
                actor=actor, conversation_id=cid, message_id=r["modelMessageId"], to_version=bad
            )
        assert err.value.field == "toVersion"
    with pytest.raises(NotFoundError):
        await chat_core.messages.versions(actor=other, conversation_id=cid)
    same = await chat_core.messages.switch_version(
        actor=actor, conversation_id=cid, message_id=r["modelMessageId"], to_version=2
    )
    assert same["switched"] is False and same["version"] == 2
