"""One user's reply accountings are applied in batches (services/reply_batches.py): a burst of
one account's replies leaves no backlog, each unit and token counted once, and a batch that
meets a record applied elsewhere still counts every reply once."""

from __future__ import annotations

import asyncio
from typing import Any

from apsara_core.repos import usage
from apsara_core.services import reply_accounting
from tests.core.chat_helpers import MODEL, new_conv, premium, used
from tests.core.test_reply_accounting import _pending, _stopping, _totals


async def _day(core: Any, user_id: str) -> dict[str, Any]:
    return await core.db.usage_daily.find_one({"userId": user_id, "model": MODEL}) or {}


async def test_a_burst_of_one_users_replies_is_accounted_in_batches_each_once(
    chat_core, fake_gemini, monkeypatch
):
    batches: list[int] = []
    real = reply_accounting.apply_many

    async def counted(db: Any, limits: Any, records: list[dict[str, Any]]) -> int:
        batches.append(len(records))  # observed only: the real batch runs
        return await real(db, limits, records)

    monkeypatch.setattr(reply_accounting, "apply_many", counted)
    actor = await premium(chat_core)
    convs = [await new_conv(chat_core, actor) for _ in range(24)]
    replies = await asyncio.gather(
        *(chat_core.chat.generate(actor=actor, conversation_id=c, text="hi") for c in convs)
    )
    await chat_core.limits.settled()

    assert await _pending(chat_core) == []
    assert sum(batches) == 24 and len(batches) < 24  # some batches held several replies
    totals = await _totals(chat_core, actor.user_id)
    assert totals["totalMessages"] == 24
    assert totals["totalTokens"] == sum(r["usageMetadata"]["totalTokenCount"] for r in replies)
    assert (await _day(chat_core, actor.user_id))["committed"] == 24
    assert await used(chat_core, actor) == 24


async def test_a_batch_meeting_a_record_applied_elsewhere_counts_each_reply_once(
    chat_core, fake_gemini
):
    actor = await premium(chat_core)
    stopping = _stopping(chat_core)  # its replies are stored, their accountings left
    for _ in range(3):
        cid = await new_conv(chat_core, actor)
        await stopping.chat.generate(actor=actor, conversation_id=cid, text="hi")
    records = await _pending(chat_core)
    assert len(records) == 3
    assert await reply_accounting.apply(chat_core.db, chat_core.limits, records[1])  # elsewhere

    applied = await reply_accounting.apply_many(chat_core.db, chat_core.limits, records)

    assert applied == 2
    assert await _pending(chat_core) == []
    assert (await _totals(chat_core, actor.user_id))["totalMessages"] == 3
    assert (await _day(chat_core, actor.user_id))["committed"] == 3
    for record in records:
        assert await usage.is_closed(chat_core.db, record["_id"])
    assert await reply_accounting.apply_many(chat_core.db, chat_core.limits, records) == 0


async def test_a_waiter_cancelled_before_its_turn_leaves_its_record_for_the_sweep(
    chat_core, fake_gemini
):
    from apsara_core.services.reply_batches import AccountingBatches

    actor = await premium(chat_core)
    stopping = _stopping(chat_core)
    for _ in range(2):
        cid = await new_conv(chat_core, actor)
        await stopping.chat.generate(actor=actor, conversation_id=cid, text="hi")
    first, second = await _pending(chat_core)
    batches = AccountingBatches(chat_core.db, chat_core.limits)
    async with batches._locks.of(actor.user_id):  # another reply of this user has its turn
        kept = asyncio.ensure_future(batches.apply(first))
        gone = asyncio.ensure_future(batches.apply(second))
        await asyncio.sleep(0.05)  # both queued, waiting for the turn
        gone.cancel()
        await asyncio.gather(gone, return_exceptions=True)
    await kept

    assert [r["_id"] for r in await _pending(chat_core)] == [second["_id"]]  # for the sweep
    assert (await _totals(chat_core, actor.user_id))["totalMessages"] == 1
    assert batches._waiting == {}
    assert await reply_accounting.apply(chat_core.db, chat_core.limits, second)  # once, later
    assert (await _totals(chat_core, actor.user_id))["totalMessages"] == 2
