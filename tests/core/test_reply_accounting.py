"""A reply's accounting follows its store (services/reply_accounting.py): the reply is stored
with a pending record, the usage totals follow; a process that stops in between leaves the
record, and the upkeep of any long-running front end applies it, once."""

from __future__ import annotations

import asyncio
import dataclasses
from contextlib import aclosing
from datetime import timedelta
from typing import Any

from apsara_core.core import Core, open_core
from apsara_core.models import Principal
from apsara_core.repos import usage
from apsara_core.services import reply_accounting
from tests.core.chat_helpers import MODEL, new_conv, premium, stored, used


class _StopsAfterStoring(Core):
    """A Core whose process stops right after a reply is stored: its deferred jobs never run."""

    def defer(self, job: Any, what: str) -> asyncio.Task[Any]:
        job.close()
        return asyncio.ensure_future(asyncio.sleep(0))


def _stopping(core: Core) -> Core:
    fields = {f.name: getattr(core, f.name) for f in dataclasses.fields(core) if f.init}
    return _StopsAfterStoring(**fields)


async def _totals(core: Core, user_id: str) -> dict[str, Any]:
    doc = await core.db.user_usage.find_one({"_id": user_id}) or {}
    return doc.get("totalUsage", {})


async def _pending(core: Core) -> list[dict[str, Any]]:
    return await core.db[reply_accounting.COLLECTION].find().to_list()


async def test_a_reply_left_unaccounted_by_a_stopped_process_is_applied_once_by_the_sweep(
    chat_core, chat_settings, fake_gemini
):
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor)
    reply = await _stopping(chat_core).chat.generate(actor=actor, conversation_id=cid, text="hi")

    user, model = await stored(chat_core, cid)  # the exchange is stored, as the user was told
    assert model["messageId"] == reply["modelMessageId"]
    assert await used(chat_core, actor) == 1  # the unit was taken at admission
    [record] = await _pending(chat_core)
    assert (await _totals(chat_core, actor.user_id)).get("totalMessages", 0) == 0
    assert not await usage.is_closed(chat_core.db, record["_id"])

    assert await reply_accounting.sweep(chat_core.db, chat_core.limits) == 0  # still young
    other = await open_core(chat_settings)  # a second process sweeping the same database
    try:
        applied = await asyncio.gather(
            reply_accounting.sweep(chat_core.db, chat_core.limits, older_than=timedelta(0)),
            reply_accounting.sweep(other.db, other.limits, older_than=timedelta(0)),
        )
    finally:
        await other.close()

    assert sorted(applied) == [0, 1]
    totals = await _totals(chat_core, actor.user_id)
    tokens = reply["usageMetadata"]
    assert totals["totalMessages"] == 1
    assert totals["totalTokens"] == tokens["totalTokenCount"] > 0
    assert await _pending(chat_core) == []
    assert await usage.is_closed(chat_core.db, record["_id"])
    assert await used(chat_core, actor) == 1
    again = await reply_accounting.apply(chat_core.db, chat_core.limits, record)
    assert again is False and (await _totals(chat_core, actor.user_id))["totalMessages"] == 1


async def test_the_upkeep_of_a_long_running_front_end_applies_what_was_left(chat_core, fake_gemini):
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor)
    await _stopping(chat_core).chat.generate(actor=actor, conversation_id=cid, text="hi")
    hour_ago = reply_accounting.wall_clock() - timedelta(hours=1)  # left by a crash long ago
    await chat_core.db[reply_accounting.COLLECTION].update_many({}, {"$set": {"since": hour_ago}})

    chat_core.start_maintenance()  # `apsara serve`, the app and `apsara worker` do this
    for _ in range(100):
        if not await _pending(chat_core):
            break
        await asyncio.sleep(0.05)

    assert await _pending(chat_core) == []
    assert (await _totals(chat_core, actor.user_id))["totalMessages"] == 1


async def test_a_stream_read_only_up_to_done_is_still_accounted(chat_core, fake_gemini):
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor)
    stream = chat_core.chat.stream(actor=actor, conversation_id=cid, text="hi")
    async with aclosing(stream) as events:
        async for event in events:
            if event.kind == "done":
                break  # a client that hangs up once it has the reply

    await chat_core.settle()
    assert await _pending(chat_core) == []
    assert (await _totals(chat_core, actor.user_id))["totalMessages"] == 1
    assert await used(chat_core, actor, MODEL) == 1


async def test_send_returns_at_done_and_this_processs_usage_reads_wait_for_its_accounting(
    chat_core, fake_gemini
):
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor)
    replies = [
        await chat_core.chat.generate(actor=actor, conversation_id=cid, text=text)
        for text in ("one", "two", "three")
    ]
    info = await chat_core.limits.quota(actor=actor)  # waits for what this process counts
    assert info["totalUsage"]["totalMessages"] == 3
    assert await _pending(chat_core) == []
    stats = await chat_core.stats.user(actor=Principal.operator(), user=actor.user_id)
    tokens = sum(r["usageMetadata"]["totalTokenCount"] for r in replies)
    assert stats["totalUsage"]["totalTokens"] == tokens
