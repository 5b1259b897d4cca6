"""Chat through every declared provider kind: the same semantics as Gemini (send, stream with
thoughts, edit, regenerate, history, quota, faults with the stored state, plans)."""

from __future__ import annotations

import pytest

from apsara_core.errors import (
    InterruptedReplyError,
    PermissionDeniedError,
    ProviderRateLimitedError,
    ProviderUnavailableError,
    RateLimitError,
    ValidationError,
)
from apsara_core.models import Principal
from tests.core.chat_helpers import new_conv, premium, stored, used
from tests.core.provider_helpers import Declared, declare
from tests.factories import create_user, principal_of

KINDS = ["openai", "anthropic"]


@pytest.fixture(params=KINDS)
async def declared(request, chat_core, fake_openai, fake_anthropic) -> Declared:
    fake = fake_openai if request.param == "openai" else fake_anthropic
    return await declare(chat_core, request.param, fake)


async def setup(core):
    actor = await premium(core)
    return actor, await new_conv(core, actor)


async def test_send_stores_the_reply_with_its_provider(chat_core, declared):
    actor, cid = await setup(chat_core)
    r = await chat_core.chat.generate(
        actor=actor, conversation_id=cid, text="hello", model=declared.model
    )
    assert r["text"] == "Echo: hello (turns=1)"
    assert r["modelMetadata"]["provider"] == declared.name
    msgs = await stored(chat_core, cid)
    assert msgs[1]["metadata"]["provider"] == {"name": declared.name, "model": declared.model}
    assert (
        msgs[1]["metadata"]["status"] == "complete"
        and msgs[1]["metadata"]["finishReason"] == "STOP"
    )
    assert await used(chat_core, actor, declared.model) == 1
    assert declared.calls()[-1]["model"] == declared.model.split("/", 1)[1]


async def test_stream_with_thoughts_then_history_on_the_second_turn(chat_core, declared):
    actor, cid = await setup(chat_core)
    events = [
        e
        async for e in chat_core.chat.stream(
            actor=actor,
            conversation_id=cid,
            text="why",
            model=declared.think_model,
            config=declared.thinking_config(),
        )
    ]
    kinds = [e.kind for e in events]
    assert kinds[0] == "started" and "thought" in kinds and kinds[-2:] == ["usage", "done"]
    assert kinds.index("thought") < kinds.index("text")
    reply = (await stored(chat_core, cid))[1]
    assert reply["content"]["thoughts"] == "Thinking about: why"
    await chat_core.chat.generate(
        actor=actor,
        conversation_id=cid,
        text="and then",
        model=declared.think_model,
        config=declared.thinking_config(),
    )
    sent = declared.calls()[-1]["messages"]
    texts = [m["content"] if isinstance(m["content"], str) else m["content"] for m in sent]
    assert "Echo: why (turns=1)" in str(texts) and "and then" in str(texts)
    if declared.name == "claude":  # the signed thinking goes back to the instance that wrote it
        assert sent[1]["content"][0]["type"] == "thinking"
        assert reply["metadata"]["thoughtSignatures"] == [sent[1]["content"][0]["signature"]]
    else:  # thoughts are never sent as text
        assert "Thinking about" not in str(sent)


async def test_edit_and_regenerate(chat_core, declared):
    actor, cid = await setup(chat_core)
    first = await chat_core.chat.generate(
        actor=actor, conversation_id=cid, text="one", model=declared.model
    )
    edited = await chat_core.chat.edit(
        actor=actor,
        conversation_id=cid,
        message_id=first["userMessageId"],
        new_text="uno",
        model=declared.model,
    )
    assert edited["text"] == "Echo: uno (turns=1)" and edited["branchId"]
    regen = await chat_core.chat.regenerate(actor=actor, conversation_id=cid, model=declared.model)
    assert regen["regeneratedMessageId"] == edited["modelMessageId"]
    msgs = await stored(chat_core, cid)
    assert [m["content"]["text"] for m in msgs] == ["uno", "Echo: uno (turns=1)"]
    assert await used(chat_core, actor, declared.model) == 3


async def test_quota_refusal(chat_core, declared):
    op = Principal.operator()
    await chat_core.plans.set_limit(actor=op, plan="premium", model=declared.model, daily=1)
    actor, cid = await setup(chat_core)
    await chat_core.chat.generate(actor=actor, conversation_id=cid, text="a", model=declared.model)
    for _ in range(2):
        with pytest.raises(RateLimitError):
            await chat_core.chat.generate(
                actor=actor, conversation_id=cid, text="b", model=declared.model
            )
    # The first refusal may have reached the model (started alongside the reservation, then
    # cancelled); the second waits for the reservation first.
    assert len(await stored(chat_core, cid)) == 2 and len(declared.calls()) in (1, 2)


async def test_a_plan_refuses_a_model_it_does_not_list(chat_core, declared):
    free = principal_of(await create_user(chat_core, "free@example.com", plan="free"))
    cid = await new_conv(chat_core, free)
    with pytest.raises(PermissionDeniedError) as info:
        await chat_core.chat.generate(
            actor=free, conversation_id=cid, text="a", model=declared.model
        )
    assert info.value.code == "MODEL_NOT_IN_PLAN" and "premium" in info.value.details
    assert await stored(chat_core, cid) == [] and declared.calls() == []


async def test_a_declared_model_no_plan_lists_is_refused_for_every_plan(chat_core, fake_openai):
    op = Principal.operator()
    await chat_core.provider_catalog.add(
        actor=op,
        name="lab",
        kind="openai",
        base_url=fake_openai.base_url,
        api_key_env=None,
        api_key_file=None,
        models=["fresh"],
    )
    actor, cid = await setup(chat_core)
    with pytest.raises(PermissionDeniedError) as info:
        await chat_core.chat.generate(actor=actor, conversation_id=cid, text="a", model="lab/fresh")
    assert "No plan includes lab/fresh" in info.value.details
    assert "apsara plan set premium --model lab/fresh" in info.value.suggestions[0]


@pytest.mark.parametrize("fault", ["cut:1", "error_event:1"])
async def test_a_cut_keeps_the_partial_reply_and_its_quota(chat_core, declared, fault):
    actor, cid = await setup(chat_core)
    declared.fake.script(fault)
    with pytest.raises(InterruptedReplyError) as info:
        await chat_core.chat.generate(
            actor=actor, conversation_id=cid, text="one two", model=declared.model
        )
    assert info.value.code == "PROVIDER_UNAVAILABLE" and info.value.partial["text"] == "Echo: "
    msgs = await stored(chat_core, cid)
    assert msgs[1]["metadata"]["status"] == "interrupted" and msgs[1]["content"]["text"] == "Echo: "
    assert await used(chat_core, actor, declared.model) == 1


@pytest.mark.parametrize(
    ("fault", "error"), [("429", ProviderRateLimitedError), ("503", ProviderUnavailableError)]
)
async def test_faults_before_the_first_chunk_are_retried_by_the_sdk_then_refunded(
    chat_core, declared, fault, error
):
    actor, cid = await setup(chat_core)
    declared.fake.script(fault, fault, fault)
    with pytest.raises(error):
        await chat_core.chat.generate(
            actor=actor, conversation_id=cid, text="hello", model=declared.model
        )
    assert len(declared.calls()) == chat_core.settings.gemini_retries
    assert [m["role"] for m in await stored(chat_core, cid)] == ["user"]
    assert await used(chat_core, actor, declared.model) == 0
    declared.fake.script(fault, "ok")
    r = await chat_core.chat.generate(
        actor=actor, conversation_id=cid, text="again", model=declared.model
    )
    assert r["text"].startswith("Echo: again")


async def test_files_are_refused_for_models_that_read_none(chat_core, declared):
    actor, cid = await setup(chat_core)
    with pytest.raises(ValidationError) as info:
        await chat_core.chat.generate(
            actor=actor,
            conversation_id=cid,
            text="see",
            model=declared.model,
            files=["https://example.com/a.png"],
        )
    assert info.value.field == "files" and await stored(chat_core, cid) == []


async def test_thoughts_of_one_provider_never_reach_gemini(chat_core, fake_gemini, fake_anthropic):
    claude = await declare(chat_core, "anthropic", fake_anthropic)
    actor, cid = await setup(chat_core)
    await chat_core.chat.generate(
        actor=actor,
        conversation_id=cid,
        text="ponder",
        model=claude.think_model,
        config=claude.thinking_config(),
    )
    await chat_core.chat.generate(actor=actor, conversation_id=cid, text="next")
    body = [r for r in fake_gemini.requests if r["model"]][-1]["body"]
    assert (
        "Echo: ponder" in str(body)
        and "Thinking about" not in str(body)
        and "sig-" not in str(body)
    )


async def test_embeddings_through_a_declared_openai_model_are_metered(chat_core, fake_openai):
    await declare(chat_core, "openai", fake_openai)
    op = Principal.operator()
    await chat_core.plans.set_limit(actor=op, plan="premium", model="oai/emb", daily=2)
    actor = await premium(chat_core)
    r = await chat_core.chat.embed(
        actor=actor, texts=["a", "b"], model="oai/emb", output_dimensionality=4
    )
    assert [len(v) for v in r["embeddings"]] == [4, 4]
    sent = fake_openai.requests[-1]["body"]
    assert (sent["model"], sent["input"], sent["dimensions"]) == ("emb", ["a", "b"], 4)
    assert await used(chat_core, actor, "oai/emb") == 1


async def test_history_is_trimmed_to_the_models_context_window(chat_core, fake_openai):
    op = Principal.operator()
    await chat_core.provider_catalog.add(
        actor=op,
        name="tiny",
        kind="openai",
        base_url=fake_openai.base_url,
        api_key_env=None,
        api_key_file=None,
        models=["small,window=1024"],
    )
    await chat_core.plans.set_limit(actor=op, plan="premium", model="tiny/small", daily=10)
    actor, cid = await setup(chat_core)
    long = "word " * 400  # ~500 tokens, its echo as many; the window leaves 768 for history
    await chat_core.chat.generate(actor=actor, conversation_id=cid, text=long, model="tiny/small")
    r = await chat_core.chat.generate(
        actor=actor, conversation_id=cid, text="short", model="tiny/small"
    )
    meta = r["modelMetadata"]
    # the long user turn does not fit; its reply is dropped too (history starts with a user turn)
    assert (meta["historyMessages"], meta["trimmedMessages"]) == (0, 2)
    assert [m["role"] for m in fake_openai.chat_calls()[-1]["messages"]] == ["user"]
