"""Providers: the Google provider through the real SDK and the fake, the manager's hook."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from apsara_core.errors import NoApiKeyError, ProviderRateLimitedError, ValidationError
from apsara_core.providers.base import GenerationOptions, ProviderRequest, Turn, accumulate
from apsara_core.providers.google import GoogleProvider
from apsara_core.providers.manager import ProviderManager


def request(text: str, **kw) -> ProviderRequest:
    return ProviderRequest(model="gemini-2.5-flash", turns=[Turn("user", text)], **kw)


async def test_stream_accumulates_text_thoughts_usage_and_finish(chat_settings, fake_gemini):
    provider = GoogleProvider(chat_settings)
    opts = GenerationOptions(include_thoughts=True)
    chunks = [c async for c in provider.stream(request("a b c d", options=opts))]
    assert [c.kind for c in chunks][0] == "thought"
    result = await accumulate(provider.stream(request("a b c d", options=opts)))
    assert result.text == "Echo: a b c d (turns=1)" and result.thoughts == "Thinking about: a b c d"
    assert result.finish_reason == "STOP"
    assert (result.usage.prompt, result.usage.thoughts) == (4, 6)
    assert result.usage.total == result.usage.prompt + result.usage.output + result.usage.thoughts


async def test_function_calls_and_thought_signatures(chat_settings, fake_gemini):
    provider = GoogleProvider(chat_settings)
    result = await accumulate(provider.stream(request('CALL:calculator({"a": 2, "b": 3})')))
    assert result.function_calls == [{"id": "fc_1", "name": "calculator", "args": {"a": 2, "b": 3}}]
    assert len(result.thought_signatures) == 1 and result.text == ""


async def test_embed_returns_one_vector_per_text(chat_settings, fake_gemini):
    provider = GoogleProvider(chat_settings)
    vectors = await provider.embed(
        texts=["a", "b", "c"],
        model="gemini-embedding-001",
        task_type="CLUSTERING",
        output_dimensionality=4,
    )
    assert [len(v) for v in vectors] == [4, 4, 4]


async def test_retry_budget_is_a_setting(chat_settings, fake_gemini):
    provider = GoogleProvider(chat_settings.model_copy(update={"gemini_retries": 1}))
    fake_gemini.script("429", "ok")
    with pytest.raises(ProviderRateLimitedError):
        await accumulate(provider.stream(request("x")))
    assert len([r for r in fake_gemini.requests if r["model"]]) == 1


async def test_no_api_key_names_the_variables(settings):
    provider = GoogleProvider(settings)
    with pytest.raises(NoApiKeyError) as info:
        provider.check_ready()
    assert "GOOGLE_AI_API_KEY" in info.value.message and "GEMINI_API_KEY" in info.value.message
    blank = GoogleProvider(settings.model_copy(update={"google_ai_api_key": SecretStr("  ")}))
    with pytest.raises(NoApiKeyError):
        blank.check_ready()


def test_thinking_models():
    provider = GoogleProvider.__new__(GoogleProvider)
    assert provider.thinks("gemini-2.5-flash") and provider.thinks("gemini-2.5-pro")
    assert provider.thinks("gemini-3-pro") and not provider.thinks("gemini-2.0-flash")


class EchoProvider:
    """A third-party provider registered through the same hook as the built-in one."""

    name = "echo"

    def models(self):
        return ["echo-1"]

    def embedding_models(self):
        return []

    def check_ready(self):
        return None

    def thinks(self, model):
        return False

    def token_budget(self, model):
        return 1000

    async def stream(self, request):
        from apsara_core.providers.base import ProviderChunk, Usage

        yield ProviderChunk("text", text="echo: " + request.turns[-1].text)
        yield ProviderChunk("usage", usage=Usage(1, 2, 0, 3), finish_reason="STOP")

    async def embed(self, **kw):
        return []


class EchoPlugin:
    @staticmethod
    def register_providers(register, settings):
        register(EchoProvider())


async def test_manager_picks_by_model_and_accepts_plugins(chat_core, fake_gemini):
    manager = ProviderManager(settings=chat_core.settings)
    assert manager.for_model("gemini-2.5-pro").name == "google"
    assert "gemini-embedding-001" in manager.known_embedding_models()
    with pytest.raises(ValidationError) as info:
        manager.for_model("echo-1")
    assert "gemini-2.5-flash" in info.value.message and info.value.field == "model"
    manager.add_plugin(EchoPlugin)
    assert manager.for_model("echo-1").name == "echo"
    assert "echo-1" in manager.known_models()


async def test_a_plugin_provider_serves_chat(chat_core, fake_gemini):
    from tests.core.chat_helpers import new_conv, premium

    chat_core.providers.add_plugin(EchoPlugin)
    await chat_core.plans.list()  # seeds the plans
    await chat_core.db.plans.update_one(
        {"name": "premium"}, {"$set": {"models.echo-1": {"daily": 10, "total": None}}}
    )
    chat_core.plans.invalidate()
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor)
    r = await chat_core.chat.generate(actor=actor, conversation_id=cid, text="hi", model="echo-1")
    assert r["text"] == "echo: hi" and r["modelMetadata"]["provider"] == "echo"


@pytest.mark.parametrize(
    "config, field",
    [
        ({"temperature": True}, "config.temperature"),
        ({"temperature": float("nan")}, "config.temperature"),
        ({"thinkingConfig": {"includeThoughts": "yes"}}, "config.thinkingConfig.includeThoughts"),
        ({"thinkingConfig": {"thinkingBudget": -5}}, "config.thinkingConfig.thinkingBudget"),
        ({"thinkingConfig": []}, "config.thinkingConfig"),
        ({"stopSequences": ["a"] * 6}, "config.stopSequences"),
        ("hot", "config"),
    ],
)
def test_generation_options_validation(config, field):
    with pytest.raises(ValidationError) as info:
        GenerationOptions.from_config(config, thinking=True)
    assert info.value.field == field


def test_generation_options_round_trip():
    config = {
        "temperature": 1.0,
        "topP": 0.5,
        "topK": 3,
        "maxOutputTokens": 9,
        "stopSequences": ["x"],
        "thinkingConfig": {"includeThoughts": True, "thinkingBudget": 0},
    }
    assert GenerationOptions.from_config(config, thinking=True).to_config() == config
    # includeThoughts on a model without thinking is dropped, not sent
    assert (
        GenerationOptions.from_config(
            {"thinkingConfig": {"includeThoughts": True}}, thinking=False
        ).to_config()
        == {}
    )


def _google_error(code: int, message: str, status: str, reason: str | None = None):
    from google.genai import errors as genai_errors

    body: dict = {"error": {"code": code, "message": message, "status": status}}
    if reason:
        body["error"]["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reason,
                "domain": "googleapis.com",
            }
        ]
    return genai_errors.ClientError(code, body)


@pytest.mark.parametrize(
    "error, code, status, field",
    [
        # Gemini's answer to a bad key is a 400 with reason API_KEY_INVALID: the server's fault
        (
            _google_error(
                400,
                "API key not valid. Please pass a valid API key.",
                "INVALID_ARGUMENT",
                "API_KEY_INVALID",
            ),
            "PROVIDER_AUTH_FAILED",
            502,
            None,
        ),
        (
            _google_error(403, "The caller does not have permission", "PERMISSION_DENIED"),
            "PROVIDER_AUTH_FAILED",
            502,
            None,
        ),
        (
            _google_error(
                401, "Request had invalid authentication credentials.", "UNAUTHENTICATED"
            ),
            "PROVIDER_AUTH_FAILED",
            502,
            None,
        ),
        # a file URI the caller gave that the key cannot read is the caller's input
        (
            _google_error(
                403,
                "You do not have permission to access the File abc or it may not exist.",
                "PERMISSION_DENIED",
            ),
            "PROVIDER_BAD_REQUEST",
            400,
            "files",
        ),
        (
            _google_error(400, "Request contains an invalid argument.", "INVALID_ARGUMENT"),
            "PROVIDER_BAD_REQUEST",
            400,
            None,
        ),
    ],
)
def test_sdk_errors_map_to_who_is_at_fault(error, code, status, field):
    from apsara_core.providers.google import map_error

    mapped = map_error(error)
    assert (mapped.code, mapped.http_status, mapped.field) == (code, status, field)
