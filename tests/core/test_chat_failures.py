"""Provider faults through the real SDK and the fake: errors, retries, stored state, quota.

Quota rule: refunded when no reply text arrived; kept when a partial reply was delivered (the
partial reply is stored with metadata.status "interrupted" and the error, and the error raised
carries it: what was charged was delivered).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from pydantic import SecretStr

from apsara_core.errors import (
    InterruptedReplyError,
    NoApiKeyError,
    ProviderAuthError,
    ProviderBadRequestError,
    ProviderBlockedError,
    ProviderRateLimitedError,
    ProviderUnavailableError,
    ValidationError,
)
from tests.core.chat_helpers import new_conv, premium, stored, used


def gen_requests(fake: Any) -> list[dict[str, Any]]:
    return [r for r in fake.requests if r["model"]]


async def setup(core) -> tuple[Any, str]:
    actor = await premium(core)
    return actor, await new_conv(core, actor)


async def expect_only_user_message(core, cid: str, text: str = "hello") -> None:
    msgs = await stored(core, cid)
    assert [(m["role"], m["content"]["text"]) for m in msgs] == [("user", text)]


@pytest.mark.parametrize("faults", [("429", "ok"), ("503", "500", "ok"), ("flaky:2",) * 3])
async def test_retryable_errors_are_retried_then_succeed(chat_core, fake_gemini, faults):
    actor, cid = await setup(chat_core)
    fake_gemini.script(*faults)
    r = await chat_core.chat.generate(actor=actor, conversation_id=cid, text="hello")
    assert r["text"] == "Echo: hello (turns=1)"
    assert len(gen_requests(fake_gemini)) == len(faults)
    assert [m["role"] for m in await stored(chat_core, cid)] == ["user", "model"]
    assert await used(chat_core, actor) == 1


@pytest.mark.parametrize(
    "fault, error, code",
    [
        ("429", ProviderRateLimitedError, "PROVIDER_RATE_LIMITED"),
        ("503", ProviderUnavailableError, "PROVIDER_UNAVAILABLE"),
        ("500", ProviderUnavailableError, "PROVIDER_UNAVAILABLE"),
    ],
)
async def test_retries_are_bounded_and_quota_refunded(chat_core, fake_gemini, fault, error, code):
    actor, cid = await setup(chat_core)
    fake_gemini.script(fault, fault, fault, "ok")
    with pytest.raises(error) as info:
        await chat_core.chat.generate(actor=actor, conversation_id=cid, text="hello")
    assert info.value.code == code
    assert len(gen_requests(fake_gemini)) == 3  # APSARA_GEMINI_RETRIES
    await expect_only_user_message(chat_core, cid)
    assert await used(chat_core, actor) == 0


@pytest.mark.parametrize(
    "fault, error, status",
    [
        ("400", ProviderBadRequestError, 400),
        ("404", ProviderBadRequestError, 400),
        ("401", ProviderAuthError, 502),
        ("403", ProviderAuthError, 502),  # the server's key
    ],
)
async def test_client_errors_are_not_retried(chat_core, fake_gemini, fault, error, status):
    actor, cid = await setup(chat_core)
    fake_gemini.script(fault, "ok")
    with pytest.raises(error) as info:
        await chat_core.chat.generate(actor=actor, conversation_id=cid, text="hello")
    assert type(info.value) is error and info.value.http_status == status
    assert fault in info.value.message
    assert len(gen_requests(fake_gemini)) == 1
    await expect_only_user_message(chat_core, cid)
    assert await used(chat_core, actor) == 0


@pytest.mark.parametrize("fault", ["cut:2", "nofinish:2", "error_event:2"])
async def test_a_stream_broken_after_some_text_keeps_the_partial_reply(
    chat_core, fake_gemini, fault
):
    actor, cid = await setup(chat_core)
    fake_gemini.script(fault)
    texts, seen_error = [], None
    with pytest.raises(InterruptedReplyError) as info:
        async for event in chat_core.chat.stream(
            actor=actor, conversation_id=cid, text="one two three four"
        ):
            if event.kind == "text":
                texts.append(event.text)
            elif event.kind == "error":
                seen_error = event.data
    assert len(texts) == 2 and seen_error["code"] == "PROVIDER_UNAVAILABLE"
    assert len(gen_requests(fake_gemini)) == 1  # never retried after the first chunk
    user, model = await stored(chat_core, cid)
    assert user["content"]["text"] == "one two three four"
    assert model["content"]["text"] == "".join(texts)
    assert model["metadata"]["status"] == "interrupted"
    assert model["metadata"]["error"]["code"] == "PROVIDER_UNAVAILABLE"
    assert await used(chat_core, actor) == 1  # a partial reply was delivered: the unit is kept
    # ... and the error says what was delivered, in the stream's error event and when raised
    err = info.value
    assert isinstance(err.cause, ProviderUnavailableError) and err.http_status == 503
    for partial in (err.partial, seen_error, err.to_dict()):
        assert partial["status"] == "interrupted" and partial["text"] == "".join(texts)
        assert partial["modelMessageId"] == model["messageId"]
        assert partial["userMessageId"] == user["messageId"] and partial["conversationId"] == cid
    assert err.to_dict()["code"] == "PROVIDER_UNAVAILABLE" and err.to_dict()["success"] is False


@pytest.mark.parametrize(
    "fault, reason", [("blocked", "blockReason SAFETY"), ("safety_finish", "finishReason SAFETY")]
)
async def test_blocked_prompts_name_the_reason_and_refund(chat_core, fake_gemini, fault, reason):
    actor, cid = await setup(chat_core)
    fake_gemini.script(fault)
    with pytest.raises(ProviderBlockedError) as info:
        await chat_core.chat.generate(actor=actor, conversation_id=cid, text="hello")
    assert info.value.code == "PROVIDER_BLOCKED" and reason in info.value.message
    await expect_only_user_message(chat_core, cid)
    assert await used(chat_core, actor) == 0


async def test_a_stalled_stream_times_out_as_interrupted(chat_core, fake_gemini):
    actor, cid = await setup(chat_core)
    fake_gemini.script("stall:4000")
    t0 = time.perf_counter()
    with pytest.raises(InterruptedReplyError) as info:
        await chat_core.chat.generate(actor=actor, conversation_id=cid, text="one two three")
    assert time.perf_counter() - t0 < 3  # the idle timeout (1 s in tests), not the stall
    assert "sent nothing" in info.value.message
    user, model = await stored(chat_core, cid)
    assert model["metadata"]["status"] == "interrupted" and model["content"]["text"]
    assert info.value.partial["text"] == model["content"]["text"]
    assert await used(chat_core, actor) == 1


async def test_edit_and_regenerate_cut_midway_carry_the_partial_reply(chat_core, fake_gemini):
    actor, cid = await setup(chat_core)
    first = await chat_core.chat.generate(actor=actor, conversation_id=cid, text="one two three")
    fake_gemini.script("cut:2", "cut:2")
    calls = [
        lambda: chat_core.chat.edit(
            actor=actor,
            conversation_id=cid,
            message_id=first["userMessageId"],
            new_text="four five six",
        ),
        lambda: chat_core.chat.regenerate(actor=actor, conversation_id=cid),
    ]
    for call in calls:
        with pytest.raises(InterruptedReplyError) as info:
            await call()
        model = (await stored(chat_core, cid))[-1]
        assert model["metadata"]["status"] == "interrupted"
        assert info.value.partial["modelMessageId"] == model["messageId"]
        assert info.value.partial["text"] == model["content"]["text"] != ""
        assert info.value.partial["branchId"]  # the earlier reply was archived, not lost
    assert await used(chat_core, actor) == 3  # each partial reply was delivered and charged


@pytest.mark.parametrize(
    "kwargs, field",
    [({"text": "caf\udce9"}, "text"), ({"text": "hi", "files": ["gs://b/\ud800.png"]}, "files[0]")],
)
async def test_lone_surrogates_are_refused_before_any_call(chat_core, fake_gemini, kwargs, field):
    actor, cid = await setup(chat_core)
    with pytest.raises(ValidationError) as info:
        await chat_core.chat.generate(actor=actor, conversation_id=cid, **kwargs)
    assert info.value.field == field and info.value.http_status == 400
    assert not gen_requests(fake_gemini) and await stored(chat_core, cid) == []
    assert await used(chat_core, actor) == 0


async def test_not_json_is_unavailable(chat_core, fake_gemini):
    actor, cid = await setup(chat_core)
    fake_gemini.script("notjson", "notjson", "notjson")
    with pytest.raises(ProviderUnavailableError):
        await chat_core.chat.generate(actor=actor, conversation_id=cid, text="hello")
    await expect_only_user_message(chat_core, cid)


async def _consume(core, actor, cid, first_text: asyncio.Event) -> None:
    async for event in core.chat.stream(
        actor=actor, conversation_id=cid, text="one two three four"
    ):
        if event.kind == "text":
            first_text.set()


async def test_cancelling_after_some_text_stores_the_partial_reply(chat_core, fake_gemini):
    actor, cid = await setup(chat_core)
    fake_gemini.script("stall:5000")
    first = asyncio.Event()
    task = asyncio.create_task(_consume(chat_core, actor, cid, first))
    await asyncio.wait_for(first.wait(), 5)
    t0 = time.perf_counter()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.perf_counter() - t0 < 1
    user, model = await stored(chat_core, cid)
    assert model["metadata"]["status"] == "interrupted"
    assert model["metadata"]["error"]["code"] == "CANCELLED" and model["content"]["text"]
    assert await used(chat_core, actor) == 1


async def test_cancelling_before_any_text_refunds(chat_core, fake_gemini):
    actor, cid = await setup(chat_core)
    fake_gemini.script("slow:5000")
    task = asyncio.create_task(_consume(chat_core, actor, cid, asyncio.Event()))
    for _ in range(100):
        await asyncio.sleep(0.02)
        if gen_requests(fake_gemini):
            break
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await expect_only_user_message(chat_core, cid, "one two three four")
    assert await used(chat_core, actor) == 0


async def test_a_consumer_that_stops_reading_leaves_an_interrupted_reply(chat_core, fake_gemini):
    actor, cid = await setup(chat_core)
    stream = chat_core.chat.stream(actor=actor, conversation_id=cid, text="one two three four five")
    async for event in stream:
        if event.kind == "text":
            break
    await stream.aclose()
    user, model = await stored(chat_core, cid)
    assert model["metadata"]["status"] == "interrupted"


async def test_without_an_api_key_nothing_is_written(chat_core, fake_gemini):
    actor, cid = await setup(chat_core)
    chat_core.settings.google_ai_api_key = None
    for built in ("providers", "chat"):  # rebuild them with the new settings
        chat_core.__dict__.pop(built, None)
    with pytest.raises(NoApiKeyError) as info:
        await chat_core.chat.generate(actor=actor, conversation_id=cid, text="hello")
    assert "GOOGLE_AI_API_KEY" in info.value.message and info.value.code == "NO_API_KEY"
    assert await stored(chat_core, cid) == [] and not gen_requests(fake_gemini)
    chat_core.settings.google_ai_api_key = SecretStr("k")


async def test_regenerate_answers_a_user_message_left_without_reply(chat_core, fake_gemini):
    actor, cid = await setup(chat_core)
    fake_gemini.script("400")
    with pytest.raises(ProviderBadRequestError):
        await chat_core.chat.generate(actor=actor, conversation_id=cid, text="hello")
    r = await chat_core.chat.regenerate(actor=actor, conversation_id=cid)
    assert r["text"] == "Echo: hello (turns=1)" and r["branchId"] is None
    assert [m["role"] for m in await stored(chat_core, cid)] == ["user", "model"]


async def test_a_cancel_while_chunks_flow_is_never_lost(chat_core, fake_gemini):
    """Cancelling the consumer while chunks keep arriving always interrupts the reply.

    `asyncio.wait_for` on Python 3.11 swallows a cancellation that lands as the awaited chunk
    arrives, and the stream then ran on to "complete" (the app kept streaming into a screen
    the operator had left); the idle timeout now uses `asyncio.timeout`, which never does.
    """
    actor = await premium(chat_core)
    fake_gemini.headers.update({"x-fake-chunks": "400", "x-fake-chunk-delay-ms": "1"})
    for round_ in range(12):
        cid = await new_conv(chat_core, actor)
        chunks = 0

        async def consume(cid: str = cid) -> None:
            nonlocal chunks
            async for event in chat_core.chat.stream(actor=actor, conversation_id=cid, text="go"):
                if event.kind == "text":
                    chunks += 1

        task = asyncio.create_task(consume())
        while chunks < 5 + round_ * 3:
            await asyncio.sleep(0)
            assert not task.done(), "the reply ended before it could be cancelled"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        statuses = [m["metadata"]["status"] for m in await stored(chat_core, cid)]
        assert statuses == ["complete", "interrupted"], f"round {round_}: {statuses}"
