"""Single-message operations on a long conversation vs a short one, same server, same run.

Two conversations of the same user: LONG messages (APSARA_BENCH_MESSAGES, default 10,000) and
SHORT (300: more than one search window), alternating user/model, inserted as the chat stores
them, each with the same small version tree at its end (the last reply regenerated, through
the core's own archive rule) and "needle" in every tenth of its newest 250 messages. Timed, as the median of RUNS
calls interleaved between the two: the version tree (`messages.versions`), a switch there and
back (`switch_version`), deleting one message (`delete_message`, a fresh one each run), and
two searches (`search_messages`): one whose matches are recent (found in the newest sequence
window) and one that matches nothing. The regex itself no index can answer: a search reads
sequence windows from the newest back until it has a page, so the one that matches nothing
reads the whole conversation on the server (only the page ever comes back to Python); it is
reported without a goal. The others are index-bounded: goal <= 1.5x.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from tests.benchmarks.harness import with_fake_core
from tests.benchmarks.report import Result

LONG = int(os.environ.get("APSARA_BENCH_MESSAGES", "10000"))
SHORT = 300
RUNS = 9


async def _conversation(core: Any, me: Any, count: int) -> tuple[str, str, list[str]]:
    """A conversation of `count` messages whose last reply has two versions (archived by the
    core's own rule); (its id, the fork's message id, its user message ids, oldest first)."""
    from apsara_core.db.transactions import run_in_transaction
    from apsara_core.services import chat_store

    conv = await core.conversations.create(actor=me, title=f"{count} messages")
    cid, start = conv["conversationId"], datetime.now(UTC) - timedelta(seconds=count)
    docs = []
    for n in range(1, count + 1):
        role = "user" if n % 2 else "model"
        word = "needle" if n > count - 250 and n % 10 == 0 else "hay"  # a page: recent
        docs.append(
            {
                "messageId": uuid4().hex,
                "conversationId": cid,
                "userId": me.user_id,
                "messageSequence": n,
                "role": role,
                "content": {"text": f"message {n} from {role}: {word} " + "words " * 40},
                "config": {"model": "gemini-2.5-flash"},
                "isEdited": False,
                "editHistory": [],
                "createdAt": start + timedelta(seconds=n),
                "metadata": {"status": "complete"},
            }
        )
    for i in range(0, len(docs), 1000):
        await core.db.messages.insert_many(docs[i : i + 1000])
    await core.db.conversations.update_one(
        {"_id": cid}, {"$set": {"stats.messageSequence": count, "stats.totalMessages": count}}
    )

    async def archive(session: Any) -> None:  # what a regeneration of the last reply does
        await chat_store.archive_from(
            core.db, cid, count, reason="regenerate", now=core.clock.now(), session=session
        )

    await run_in_transaction(core.db, archive)
    new = await chat_store.append(
        core.db, {**docs[-1], "messageId": uuid4().hex, "createdAt": core.clock.now()}
    )
    prompts = [d["messageId"] for d in docs if d["role"] == "user"]
    return cid, new["messageId"], prompts


async def _measure(core: Any, _fake: Any) -> dict[str, tuple[float, float]]:
    from tests.factories import create_user, principal_of

    me = principal_of(await create_user(core, "bench@example.com", plan="premium"))
    convs = {
        "short": await _conversation(core, me, SHORT),
        "long": await _conversation(core, me, LONG),
    }

    def ops(cid: str, fork: str, prompts: list[str]) -> dict[str, Callable[[], Awaitable[object]]]:
        async def switch() -> None:
            await core.messages.switch_version(
                actor=me, conversation_id=cid, message_id=fork, to_version=1
            )
            tree = await core.messages.versions(actor=me, conversation_id=cid)
            await core.messages.switch_version(
                actor=me, conversation_id=cid, message_id=tree[0]["messageId"], to_version=2
            )

        async def delete() -> None:  # the oldest prompt left, with its reply
            await core.messages.delete_message(
                actor=me, conversation_id=cid, message_id=prompts.pop(0), with_reply=True
            )

        return {
            "versions": lambda: core.messages.versions(actor=me, conversation_id=cid),
            "switch there and back (2 switches + 1 tree)": switch,
            "delete a message with its reply": delete,
            "search, recent matches": lambda: core.messages.search_messages(
                actor=me, conversation_id=cid, query="NEEDLE"
            ),
            "search, no match (reads every window)": lambda: core.messages.search_messages(
                actor=me, conversation_id=cid, query="absent"
            ),
        }

    table = {which: ops(*convs[which]) for which in convs}
    samples: dict[str, dict[str, list[float]]] = {"short": {}, "long": {}}
    for _ in range(RUNS):
        for which in ("short", "long"):
            for name, call in table[which].items():
                started = time.perf_counter()
                await call()
                samples[which].setdefault(name, []).append(time.perf_counter() - started)
    return {
        name: (statistics.median(samples["short"][name]), statistics.median(samples["long"][name]))
        for name in samples["short"]
    }


def run() -> list[Result]:
    """Each operation's time at LONG messages, with its ratio to SHORT messages."""
    med = with_fake_core("bench_messages", _measure)
    out = []
    for name, (short, long) in med.items():
        searched = "no match" in name
        out.append(
            Result(
                f"messages: {name} at {LONG} messages (at {SHORT}: {short * 1000:.1f} ms)",
                long * 1000,
                "ms",
                ratio=long / short,
                goal=None if searched else 1.5,
            )
        )
    return out
