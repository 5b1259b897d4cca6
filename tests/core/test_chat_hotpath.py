"""The generate hot path: the user's message and the model call travel alongside the quota
reservation; the message is committed, and the reply shown, only once the unit is reserved
(issue 16 item 5)."""

from __future__ import annotations

import asyncio
import time

import pytest

from apsara_core.errors import NotFoundError, RateLimitError
from apsara_core.models import Principal
from apsara_core.repos import tallies, usage
from tests.core.chat_helpers import MODEL, new_conv, premium, stored, used


def _model_calls(fake) -> list[dict]:
    return [r for r in fake.requests if r["model"]]


async def _counted_messages(core) -> int:
    return (await tallies.docs(core.db, ["messages"])).get("messages", 0)


async def test_refused_message_leaves_no_trace_and_the_next_one_takes_sequence_one(
    chat_core, fake_gemini
):
    actor = await premium(chat_core)
    await chat_core.plans.set_limit(
        actor=Principal.operator(), plan="premium", model=MODEL, daily=1
    )
    first = await new_conv(chat_core, actor)
    await chat_core.chat.generate(actor=actor, conversation_id=first, text="the one allowed")
    fresh = await new_conv(chat_core, actor)

    with pytest.raises(RateLimitError):
        await chat_core.chat.generate(actor=actor, conversation_id=fresh, text="refused")

    assert await stored(chat_core, fresh) == []
    conv = await chat_core.conversations.get(actor=actor, conversation_id=fresh)
    assert conv["stats"]["messageSequence"] == 0 and conv["stats"]["totalMessages"] == 0
    assert await _counted_messages(chat_core) == 2  # the first exchange only
    assert await used(chat_core, actor) == 1

    await chat_core.plans.set_limit(
        actor=Principal.operator(), plan="premium", model=MODEL, daily=5
    )
    r = await chat_core.chat.generate(actor=actor, conversation_id=fresh, text="allowed now")
    user, model = await stored(chat_core, fresh)
    assert (user["messageSequence"], model["messageSequence"]) == (1, 2)
    assert user["content"] == {"text": "allowed now"} and r["userMessageId"] == user["messageId"]
    assert await _counted_messages(chat_core) == 4 and await used(chat_core, actor) == 2


async def test_refusal_on_a_conversation_with_history_keeps_its_history_intact(
    chat_core, fake_gemini
):
    actor = await premium(chat_core)
    await chat_core.plans.set_limit(
        actor=Principal.operator(), plan="premium", model=MODEL, daily=2
    )
    cid = await new_conv(chat_core, actor)
    for text in ("one", "two"):
        await chat_core.chat.generate(actor=actor, conversation_id=cid, text=text)

    with pytest.raises(RateLimitError):
        await chat_core.chat.generate(actor=actor, conversation_id=cid, text="three")

    docs = await stored(chat_core, cid)
    assert [d["messageSequence"] for d in docs] == [1, 2, 3, 4]
    assert [d["content"]["text"] for d in docs[::2]] == ["one", "two"]
    conv = await chat_core.conversations.get(actor=actor, conversation_id=cid)
    assert conv["stats"]["messageSequence"] == 4


async def test_concurrent_generates_of_many_users_are_all_counted_exactly(chat_core, fake_gemini):
    actors = [await premium(chat_core, f"c{i}@example.com") for i in range(8)]
    convs = [[await new_conv(chat_core, a) for _ in range(2)] for a in actors]

    async def user(i: int) -> None:
        for cid in convs[i]:
            await chat_core.chat.generate(actor=actors[i], conversation_id=cid, text="hi")

    await asyncio.gather(*(user(i) for i in range(len(actors))))
    await chat_core.limits.settled()  # the accounting follows each reply (reply_accounting)

    assert await _counted_messages(chat_core) == 32  # 16 exchanges, over the counter's shards
    counted = await chat_core.db.messages.count_documents({})
    assert counted == 32
    today = chat_core.clock.now().date().isoformat()
    rows = await tallies.usage_days(chat_core.db, today, today)
    assert [(r["model"], r["committed"]) for r in rows] == [(MODEL, 16)]  # one row per model
    totals = (await chat_core.stats.database(actor=Principal.operator(), days=1))["totals"]
    assert (totals["messages"], totals["storedMessages"]) == (16, 32)  # model calls; stored


async def test_one_users_concurrent_replies_take_turns_and_are_all_counted(chat_core, fake_gemini):
    """Twelve replies of one user at once, each in its own conversation: their stores queue on
    the user's lock rather than conflicting, and every unit and token is counted once."""
    actor = await premium(chat_core)
    convs = [await new_conv(chat_core, actor) for _ in range(12)]
    replies = await asyncio.gather(
        *(chat_core.chat.generate(actor=actor, conversation_id=c, text="hi") for c in convs)
    )
    assert all(r["success"] for r in replies)
    assert await used(chat_core, actor) == 12
    await chat_core.limits.settled()  # the accounting follows each reply (reply_accounting)
    assert await chat_core.db.messages.count_documents({"userId": actor.user_id}) == 24
    today = chat_core.clock.now().date().isoformat()
    daily = await chat_core.db.usage_daily.find_one(
        {"_id": usage.day_id(actor.user_id, today, MODEL)}
    )
    tokens = sum(r["usageMetadata"]["totalTokenCount"] for r in replies)
    assert (daily["committed"], daily["totalTokens"]) == (12, tokens)


async def test_refused_while_the_model_already_started_closes_the_call_and_stores_nothing(
    chat_core, fake_gemini
):
    """The model call starts alongside the reservation: a refusal that lands after it started
    still writes nothing, keeps the count exact and cancels the upstream call at once."""
    actor = await premium(chat_core)
    await chat_core.plans.set_limit(
        actor=Principal.operator(), plan="premium", model=MODEL, daily=2
    )
    first = await new_conv(chat_core, actor)
    await chat_core.chat.generate(actor=actor, conversation_id=first, text="the first")
    cid = await new_conv(chat_core, actor)
    fake_gemini.script("slow:5000")
    counter = usage.day_id(actor.user_id, chat_core.clock.now().date().isoformat(), MODEL)
    # Another transaction holds the counter: the reservation waits for it; the model call not.
    async with chat_core.client.start_session() as holder:
        await holder.start_transaction()
        await chat_core.db.quota_counters.update_one(
            {"_id": counter}, {"$set": {"count": 2}}, session=holder
        )
        sending = asyncio.ensure_future(
            chat_core.chat.generate(actor=actor, conversation_id=cid, text="refused late")
        )
        for _ in range(250):
            if len(_model_calls(fake_gemini)) >= 2:
                break
            await asyncio.sleep(0.02)
        assert len(_model_calls(fake_gemini)) == 2, "the model call did not start"
        assert not sending.done()
        await holder.commit_transaction()  # the day is now used up
    t0 = time.perf_counter()
    with pytest.raises(RateLimitError):
        await sending
    assert time.perf_counter() - t0 < 2  # not the 5 s the slow model would take

    assert await stored(chat_core, cid) == []
    conv = await chat_core.conversations.get(actor=actor, conversation_id=cid)
    assert conv["stats"]["messageSequence"] == 0 and conv["stats"]["totalMessages"] == 0
    assert await _counted_messages(chat_core) == 2  # the first exchange only
    assert await used(chat_core, actor) == 2


async def test_the_reply_streams_while_the_message_commits_and_is_dropped_if_it_cannot(
    chat_core, fake_gemini
):
    """The first text does not wait for the user's message to commit; the reply is never
    stored before it, and not at all when the conversation went away meanwhile (refunded)."""
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor)
    events: list[str] = []
    first_text = asyncio.Event()

    async def consume() -> None:
        async for event in chat_core.chat.stream(actor=actor, conversation_id=cid, text="hi"):
            events.append(event.kind)
            if event.kind == "text":
                first_text.set()

    # Another transaction holds the conversation: the message's store waits (and retries).
    async with chat_core.client.start_session() as holder:
        await holder.start_transaction()
        await chat_core.db.conversations.update_one(
            {"_id": cid}, {"$set": {"held": True}}, session=holder
        )
        task = asyncio.ensure_future(consume())
        await asyncio.wait_for(first_text.wait(), 10)
        assert await stored(chat_core, cid) == []  # text shown, the message not yet stored
        await chat_core.db.conversations.delete_one({"_id": cid}, session=holder)
        await holder.commit_transaction()
    with pytest.raises(NotFoundError):
        await asyncio.wait_for(task, 30)
    assert events[0] == "started" and "text" in events and events[-1] == "error"
    assert await stored(chat_core, cid) == []
    assert await used(chat_core, actor) == 0
    assert await _counted_messages(chat_core) == 0
