"""ChatService.generate/stream through the real google-genai SDK and the fake Gemini server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from apsara_core.errors import (
    NotFoundError,
    PayloadTooLargeError,
    ProviderUnavailableError,
    ValidationError,
)
from tests.core.chat_helpers import MODEL, new_conv, premium, stored, used
from tests.factories import create_user, principal_of

THOUGHTS = {"thinkingConfig": {"includeThoughts": True}}


def gen_requests(fake: Any) -> list[dict[str, Any]]:
    return [r for r in fake.requests if r["model"]]


async def test_generate_stores_both_messages_and_answers_in_spec_shape(chat_core, fake_gemini):
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor)
    r = await chat_core.chat.generate(
        actor=actor, conversation_id=cid, text="hello there", config=THOUGHTS
    )
    assert r["success"] is True
    assert r["text"] == "Echo: hello there (turns=1)"
    assert r["thoughts"] == "Thinking about: hello there"
    assert r["usageMetadata"] == {
        "promptTokenCount": 2,
        "candidatesTokenCount": 4,
        "thoughtsTokenCount": 4,
        "totalTokenCount": 10,
    }
    meta = r["modelMetadata"]
    assert (meta["model"], meta["provider"], meta["finishReason"]) == (MODEL, "google", "STOP")
    assert (meta["historyMessages"], meta["trimmedMessages"], meta["filesProcessed"]) == (0, 0, 0)
    assert set(meta["timing"]) == {"requestAt", "firstChunkMs", "totalMs"}
    user, model = await stored(chat_core, cid)
    assert (user["messageId"], model["messageId"]) == (r["userMessageId"], r["modelMessageId"])
    assert (user["messageSequence"], model["messageSequence"]) == (1, 2)
    assert user["content"] == {"text": "hello there"} and user["role"] == "user"
    assert model["content"] == {"text": r["text"], "thoughts": r["thoughts"]}
    assert model["metadata"]["status"] == "complete"
    assert model["metadata"]["tokens"] == {"prompt": 2, "output": 4, "thoughts": 4, "total": 10}
    assert model["metadata"]["provider"] == {"name": "google", "model": MODEL}
    assert model["config"] == {"model": MODEL, "thinkingConfig": {"includeThoughts": True}}
    conv = await chat_core.conversations.get(actor=actor, conversation_id=cid)
    assert conv["stats"]["messageSequence"] == 2 and conv["stats"]["totalMessages"] == 2
    assert conv["stats"]["totalTokens"] == 10
    assert await used(chat_core, actor) == 1


async def test_stream_yields_thoughts_then_text_usage_done(chat_core, fake_gemini):
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor)
    events = [
        e
        async for e in chat_core.chat.stream(
            actor=actor, conversation_id=cid, text="one two three four five six", config=THOUGHTS
        )
    ]
    kinds = [e.kind for e in events]
    assert kinds[:2] == ["started", "thought"] and kinds[-2:] == ["usage", "done"]
    assert kinds.count("text") >= 3  # the fake splits the answer into several events
    assert (
        "".join(e.text for e in events if e.kind == "thought")
        == "Thinking about: one two three four five six"
    )
    text = "".join(e.text for e in events if e.kind == "text")
    assert text == events[-1].data["text"] == "Echo: one two three four five six (turns=1)"
    assert events[-2].data == events[-1].data["usageMetadata"]


async def test_second_turn_sends_history_and_system_instruction(chat_core, fake_gemini):
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor, system="You are terse.")
    await chat_core.chat.generate(actor=actor, conversation_id=cid, text="first")
    r = await chat_core.chat.generate(actor=actor, conversation_id=cid, text="second")
    assert r["text"] == "[sys:You are terse.] Echo: second (turns=3)"
    assert r["modelMetadata"]["historyMessages"] == 2
    body = gen_requests(fake_gemini)[-1]["body"]
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
    assert "You are terse." in str(body.get("systemInstruction") or body.get("system_instruction"))


async def test_config_reaches_the_model(chat_core, fake_gemini):
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor)
    config = {
        "temperature": 0.5,
        "topP": 0.9,
        "topK": 20,
        "maxOutputTokens": 256,
        "stopSequences": ["END"],
        "thinkingConfig": {"includeThoughts": True, "thinkingBudget": 512},
    }
    await chat_core.chat.generate(actor=actor, conversation_id=cid, text="hi", config=config)
    sent = gen_requests(fake_gemini)[-1]["body"]["generationConfig"]
    assert sent["temperature"] == 0.5 and sent["topP"] == 0.9 and sent["topK"] == 20
    assert sent["maxOutputTokens"] == 256 and sent["stopSequences"] == ["END"]
    assert str(sent["thinkingConfig"]).count("512") == 1
    model = (await stored(chat_core, cid))[-1]
    assert model["config"] == {"model": MODEL, **config}


async def test_files_pass_through_as_file_data(chat_core, fake_gemini):
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor)
    files = ["gs://bucket/cat.png", "https://example.com/doc.pdf", "https://example.com/blob"]
    r = await chat_core.chat.generate(
        actor=actor, conversation_id=cid, text="describe", files=files
    )
    assert r["modelMetadata"]["filesProcessed"] == 3
    parts = gen_requests(fake_gemini)[-1]["body"]["contents"][-1]["parts"]
    data = [
        p.get("fileData") or p.get("file_data")
        for p in parts
        if "fileData" in p or "file_data" in p
    ]
    assert [d.get("fileUri") or d.get("file_uri") for d in data] == files
    assert [d.get("mimeType") or d.get("mime_type") for d in data] == [
        "image/png",
        "application/pdf",
        "application/octet-stream",
    ]
    user = (await stored(chat_core, cid))[0]
    assert [f["uri"] for f in user["files"]] == files


async def test_history_is_trimmed_to_the_token_budget(chat_core, fake_gemini):
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor, system="sys")
    for i in range(3):
        await chat_core.chat.generate(
            actor=actor, conversation_id=cid, text=f"message {i} " + "x" * 80
        )
    chat_core.settings.history_token_budget = 60  # ~240 characters: the prompt and one earlier turn
    r = await chat_core.chat.generate(actor=actor, conversation_id=cid, text="last " + "y" * 80)
    meta = r["modelMetadata"]
    assert meta["historyMessages"] + meta["trimmedMessages"] == 6 and meta["trimmedMessages"] >= 4
    body = gen_requests(fake_gemini)[-1]["body"]
    assert body["contents"][0]["role"] == "user"  # never starts with a model turn
    assert r["text"].startswith("[sys:sys] ")  # the system instruction is always kept
    model = (await stored(chat_core, cid))[-1]
    assert model["metadata"]["trimmedMessages"] == meta["trimmedMessages"]


async def test_twenty_parallel_sends_get_sequences_1_to_40(chat_core, fake_gemini):
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor)
    results = await asyncio.gather(
        *[
            chat_core.chat.generate(actor=actor, conversation_id=cid, text=f"parallel {i}")
            for i in range(20)
        ]
    )
    assert all(r["success"] for r in results)
    msgs = await stored(chat_core, cid)
    assert [m["messageSequence"] for m in msgs] == list(range(1, 41))
    assert sum(m["role"] == "user" for m in msgs) == 20
    conv = await chat_core.conversations.get(actor=actor, conversation_id=cid)
    assert conv["stats"]["messageSequence"] == 40 and conv["stats"]["totalMessages"] == 40


async def test_embeddings_batch_and_metered(chat_core, fake_gemini):
    actor = await premium(chat_core)
    r = await chat_core.chat.embed(
        actor=actor,
        texts=["alpha", "beta"],
        output_dimensionality=16,
        task_type="retrieval_document",
    )
    assert r["model"] == "gemini-embedding-001" and len(r["embeddings"]) == 2
    assert all(len(v) == 16 for v in r["embeddings"]) and r["embeddings"][0] != r["embeddings"][1]
    assert await used(chat_core, actor, "gemini-embedding-001") == 1
    fake_gemini.script("400")
    with pytest.raises(Exception) as info:
        await chat_core.chat.embed(actor=actor, texts=["gamma"])
    assert info.value.code == "PROVIDER_BAD_REQUEST"
    assert await used(chat_core, actor, "gemini-embedding-001") == 1  # refunded


@pytest.mark.parametrize(
    "kwargs, error, field",
    [
        ({"texts": []}, ValidationError, "texts"),
        ({"texts": ["ok", "  "]}, ValidationError, "texts[1]"),
        ({"texts": [{"$ne": None}]}, ValidationError, "texts[0]"),
        ({"texts": ["a"], "model": "nope"}, ValidationError, "model"),
        ({"texts": ["a"], "task_type": "DREAMING"}, ValidationError, "taskType"),
        ({"texts": ["a"], "output_dimensionality": 0}, ValidationError, "outputDimensionality"),
    ],
)
async def test_embed_bad_input(chat_core, fake_gemini, kwargs, error, field):
    actor = await premium(chat_core)
    with pytest.raises(error) as info:
        await chat_core.chat.embed(actor=actor, **kwargs)
    assert info.value.field == field
    assert not gen_requests(fake_gemini)


BAD_SENDS = [
    ({"text": ""}, ValidationError, "text"),
    ({"text": "   \n\t"}, ValidationError, "text"),
    ({"text": {"$ne": None}}, ValidationError, "text"),
    ({"text": "x" * 100_001}, PayloadTooLargeError, "text"),
    ({"model": "gpt-4"}, ValidationError, "model"),
    ({"config": {"temperature": -0.1}}, ValidationError, "config.temperature"),
    ({"config": {"temperature": 2.5}}, ValidationError, "config.temperature"),
    ({"config": {"topP": 1.5}}, ValidationError, "config.topP"),
    ({"config": {"topK": 0}}, ValidationError, "config.topK"),
    ({"config": {"maxOutputTokens": 0}}, ValidationError, "config.maxOutputTokens"),
    ({"config": {"maxOutputTokens": "many"}}, ValidationError, "config.maxOutputTokens"),
    ({"config": {"colour": "red"}}, ValidationError, "config.colour"),
    ({"config": {"stopSequences": "END"}}, ValidationError, "config.stopSequences"),
    (
        {"model": "gemini-2.0-flash", "config": {"thinkingConfig": {"thinkingBudget": 100}}},
        ValidationError,
        "config.thinkingConfig.thinkingBudget",
    ),
    ({"files": ["file_123"]}, NotFoundError, "files[0]"),  # an unknown stored file id
    ({"files": ["http://insecure.example/x.png"]}, ValidationError, "files[0]"),
    ({"conversation_id": {"$ne": None}}, ValidationError, "conversationId"),
    ({"conversation_id": "conv_unknown"}, NotFoundError, "conversationId"),
]


@pytest.mark.parametrize("change, error, field", BAD_SENDS)
async def test_bad_input_is_refused_and_nothing_is_written(
    chat_core, fake_gemini, change, error, field
):
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor)
    kwargs = {"actor": actor, "conversation_id": cid, "text": "hello", **change}
    with pytest.raises(error) as info:
        await chat_core.chat.generate(**kwargs)
    assert info.value.field == field
    assert await stored(chat_core, cid) == []
    assert not gen_requests(fake_gemini)
    assert await used(chat_core, actor) == 0


async def test_unknown_model_error_lists_known_models(chat_core, fake_gemini):
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor)
    with pytest.raises(ValidationError) as info:
        await chat_core.chat.generate(actor=actor, conversation_id=cid, text="hi", model="gpt-4")
    assert "gemini-2.5-flash" in info.value.message and "gemini-2.5-pro" in info.value.message


async def test_another_users_conversation_is_not_found(chat_core, fake_gemini):
    owner = await premium(chat_core, "owner@example.com")
    other = await premium(chat_core, "other@example.com")
    cid = await new_conv(chat_core, owner)
    with pytest.raises(NotFoundError):
        await chat_core.chat.generate(actor=other, conversation_id=cid, text="hi")
    assert await stored(chat_core, cid) == []


async def test_admin_may_send_into_a_users_conversation(chat_core, fake_gemini):
    owner = await premium(chat_core, "owner@example.com")
    admin = principal_of(
        await create_user(chat_core, "admin@example.com", role="admin", plan="premium")
    )
    cid = await new_conv(chat_core, owner)
    r = await chat_core.chat.generate(actor=admin, conversation_id=cid, text="hi")
    assert r["success"] and all(m["userId"] == owner.user_id for m in await stored(chat_core, cid))


async def test_errors_before_the_stream_starts_are_raised_without_events(chat_core, fake_gemini):
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor)
    for kwargs in (
        {"text": ""},
        {"text": "hi", "model": "nope"},
        {"text": "hi", "conversation_id": "c_x"},
    ):
        seen = []
        with pytest.raises((ValidationError, NotFoundError)):
            async for event in chat_core.chat.stream(
                **{"actor": actor, "conversation_id": cid, **kwargs}
            ):
                seen.append(event)
        assert seen == []  # a front end can still answer it plainly (HTTP: its status)
    assert not [r for r in fake_gemini.requests if r["model"]]


async def test_stream_starts_with_started_then_errors_become_error_events(chat_core, fake_gemini):
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor)
    events = [e async for e in chat_core.chat.stream(actor=actor, conversation_id=cid, text="hi")]
    assert events[0].kind == "started" and events[-1].kind == "done"
    assert events[0].data["userMessageId"] == events[-1].data["userMessageId"]
    assert events[0].data["conversationId"] == cid and events[0].data["model"] == "gemini-2.5-flash"
    fake_gemini.script("500", "500", "500")
    seen = []
    with pytest.raises(ProviderUnavailableError):
        async for event in chat_core.chat.stream(actor=actor, conversation_id=cid, text="again"):
            seen.append(event)
    assert [e.kind for e in seen] == ["started", "error"] and seen[1].data[
        "code"
    ] == "PROVIDER_UNAVAILABLE"


async def test_quota_refusal_writes_nothing(chat_core, fake_gemini):
    from apsara_core.errors import RateLimitError

    guest = principal_of(
        await create_user(chat_core, "guest@example.com", role="guest", plan="guest")
    )
    cid = await new_conv(chat_core, guest)
    for i in range(5):
        await chat_core.chat.generate(actor=guest, conversation_id=cid, text=f"m{i}")
    for _ in range(3):
        with pytest.raises(RateLimitError) as info:
            await chat_core.chat.generate(actor=guest, conversation_id=cid, text="one more")
        assert info.value.usage_info
    # The model call starts alongside the reservation: the first refusal may have reached the
    # model (then cancelled); after it, a refused caller waits for the reservation first.
    assert len(await stored(chat_core, cid)) == 10 and len(gen_requests(fake_gemini)) in (5, 6)
