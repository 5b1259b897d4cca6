"""The OpenAI-compatible and Anthropic providers through their real SDKs and the wire fakes."""

from __future__ import annotations

import pytest

from apsara_core.errors import (
    NoApiKeyError,
    ProviderAuthError,
    ProviderBadRequestError,
    ProviderRateLimitedError,
    ProviderUnavailableError,
)
from apsara_core.providers.anthropic_provider import AnthropicProvider
from apsara_core.providers.base import GenerationOptions, ProviderRequest, Turn, accumulate
from apsara_core.providers.instances import InstanceConfig, ModelSpec
from apsara_core.providers.openai_compat import OpenAIProvider
from tests.fakes.provider_fixtures import ANTHROPIC_KEY_ENV, OPENAI_KEY_ENV

THINK = GenerationOptions(include_thoughts=True)


def oai(fake, settings, **kw) -> OpenAIProvider:
    config = InstanceConfig(
        "oai",
        "openai",
        fake.base_url,
        api_key_env=kw.pop("env", OPENAI_KEY_ENV),
        models=(
            ModelSpec("gpt-fake"),
            ModelSpec("deep-think", thinks=True),
            ModelSpec("emb", embedding=True),
        ),
    )
    return OpenAIProvider(config, settings.model_copy(update=kw))


def claude(fake, settings, **kw) -> AnthropicProvider:
    config = InstanceConfig(
        "claude",
        "anthropic",
        fake.base_url,
        api_key_env=ANTHROPIC_KEY_ENV,
        models=(ModelSpec("sonnet", 200_000, thinks=True),),
    )
    return AnthropicProvider(config, settings.model_copy(update=kw))


def req(
    model: str, text: str, options: GenerationOptions | None = None, turns=()
) -> ProviderRequest:
    return ProviderRequest(
        model=model, turns=[*turns, Turn("user", text)], options=options or GenerationOptions()
    )


async def test_openai_streams_reasoning_text_usage(settings, fake_openai):
    provider = oai(fake_openai, settings)
    chunks = [c async for c in provider.stream(req("oai/deep-think", "a b c", THINK))]
    assert chunks[0].kind == "thought"
    result = await accumulate(provider.stream(req("oai/deep-think", "a b c", THINK)))
    assert result.text == "Echo: a b c (turns=1)" and result.thoughts == "Thinking about: a b c"
    assert (result.finish_reason, result.usage.prompt, result.usage.thoughts) == ("STOP", 3, 5)
    body = fake_openai.chat_calls()[-1]
    assert body["model"] == "deep-think" and body["stream_options"] == {"include_usage": True}


async def test_openai_tool_calls_and_embeddings(settings, fake_openai):
    provider = oai(fake_openai, settings)
    result = await accumulate(provider.stream(req("oai/gpt-fake", 'CALL:calc({"a": 2})')))
    assert result.function_calls == [{"id": "call_1", "name": "calc", "args": {"a": 2}}]
    vectors = await provider.embed(
        texts=["x", "y"], model="oai/emb", task_type=None, output_dimensionality=4
    )
    assert [len(v) for v in vectors] == [4, 4]


@pytest.mark.parametrize(
    ("fault", "error", "calls"),
    [
        ("429", ProviderRateLimitedError, 2),
        ("503", ProviderUnavailableError, 2),
        ("401", ProviderAuthError, 1),
        ("400", ProviderBadRequestError, 1),
    ],
)
async def test_openai_http_faults_use_the_sdk_retries(settings, fake_openai, fault, error, calls):
    provider = oai(fake_openai, settings, gemini_retries=2)
    fake_openai.script(fault, fault)
    with pytest.raises(error) as info:
        await accumulate(provider.stream(req("oai/gpt-fake", "x")))
    assert len(fake_openai.chat_calls()) == calls
    if fault == "429":
        assert "Retry-After: 1" in info.value.details


async def test_openai_retry_before_the_first_chunk_succeeds(settings, fake_openai):
    fake_openai.script("429", "ok")
    result = await accumulate(oai(fake_openai, settings).stream(req("oai/gpt-fake", "x")))
    assert result.text.startswith("Echo: x") and len(fake_openai.chat_calls()) == 2


@pytest.mark.parametrize("fault", ["cut:1", "error_event:1", "nofinish:1"])
async def test_openai_mid_stream_faults_keep_what_came(settings, fake_openai, fault):
    fake_openai.script(fault)
    got = []
    with pytest.raises(ProviderUnavailableError):
        async for chunk in oai(fake_openai, settings).stream(req("oai/gpt-fake", "one two")):
            got.append(chunk.text)
    assert "".join(got) == "Echo: " and len(fake_openai.chat_calls()) == 1


async def test_openai_missing_key_and_local_server_without_key(settings, fake_openai, monkeypatch):
    monkeypatch.delenv(OPENAI_KEY_ENV)
    with pytest.raises(NoApiKeyError) as info:
        oai(fake_openai, settings).check_ready()
    assert OPENAI_KEY_ENV in info.value.message
    keyless = oai(fake_openai, settings, env=None)
    keyless.check_ready()  # a local server (Ollama) is declared without a key


async def test_anthropic_streams_thinking_with_signature(settings, fake_anthropic):
    provider = claude(fake_anthropic, settings)
    opts = GenerationOptions(include_thoughts=True, thinking_budget=2000)
    result = await accumulate(provider.stream(req("claude/sonnet", "a b", opts)))
    assert result.text == "Echo: a b (turns=1)" and result.thoughts == "Thinking about: a b"
    assert len(result.thought_signatures) == 1 and result.finish_reason == "STOP"
    body = fake_anthropic.calls()[-1]
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2000}
    assert body["max_tokens"] > 2000 and result.usage.prompt == 2


async def test_anthropic_replays_only_its_own_signed_thinking(settings, fake_anthropic):
    provider = claude(fake_anthropic, settings)
    first = await accumulate(provider.stream(req("claude/sonnet", "q1", THINK)))
    mine = Turn(
        "model",
        first.text,
        thoughts=first.thoughts,
        signatures=first.thought_signatures,
        provider="claude",
    )
    foreign = Turn("model", "other", thoughts="secret", signatures=["x"], provider="google")
    turns = [Turn("user", "q0"), foreign, Turn("user", "q1"), mine]
    await accumulate(provider.stream(req("claude/sonnet", "q2", THINK, turns)))
    sent = fake_anthropic.calls()[-1]["messages"]
    assert sent[1]["content"] == [{"type": "text", "text": "other"}]
    assert sent[3]["content"][0] == {
        "type": "thinking",
        "thinking": first.thoughts,
        "signature": first.thought_signatures[0],
    }
    await accumulate(provider.stream(req("claude/sonnet", "plain", turns=turns)))
    assert fake_anthropic.calls()[-1]["messages"][3]["content"][0]["type"] == "text"  # no thinking
    tampered = Turn(
        "model", "t", thoughts="changed", signatures=first.thought_signatures, provider="claude"
    )
    with pytest.raises(ProviderBadRequestError):
        await accumulate(
            provider.stream(req("claude/sonnet", "q", THINK, [Turn("user", "a"), tampered]))
        )


async def test_anthropic_tool_use(settings, fake_anthropic):
    result = await accumulate(
        claude(fake_anthropic, settings).stream(req("claude/sonnet", 'CALL:f({"k": "v"})'))
    )
    assert result.function_calls == [{"id": "toolu_1", "name": "f", "args": {"k": "v"}}]


@pytest.mark.parametrize(
    ("fault", "error", "calls"),
    [
        ("429", ProviderRateLimitedError, 2),
        ("529", ProviderUnavailableError, 2),
        ("500", ProviderUnavailableError, 2),
        ("401", ProviderAuthError, 1),
    ],
)
async def test_anthropic_http_faults(settings, fake_anthropic, fault, error, calls):
    fake_anthropic.script(fault, fault)
    with pytest.raises(error):
        await accumulate(
            claude(fake_anthropic, settings, gemini_retries=2).stream(req("claude/sonnet", "x"))
        )
    assert len(fake_anthropic.calls()) == calls


@pytest.mark.parametrize("fault", ["cut:1", "error_event:1", "nofinish:1"])
async def test_anthropic_mid_stream_faults(settings, fake_anthropic, fault):
    fake_anthropic.script(fault)
    got = []
    with pytest.raises(ProviderUnavailableError):
        async for chunk in claude(fake_anthropic, settings).stream(req("claude/sonnet", "one two")):
            got.append(chunk.text)
    assert "".join(got) == "Echo: "
