"""The OpenAI-compatible endpoint (/v1) with the real `openai` SDK as the client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import openai
import pytest

from apsara_core.core import Core
from apsara_core.http.app import create_app
from apsara_core.models import Principal
from tests.core.chat_helpers import stored, used
from tests.core.provider_helpers import declare

PASSWORD = "correct horse battery"


async def sign_in(core: Core, email: str, plan: str = "premium") -> str:
    await core.users.create(
        actor=Principal.operator(),
        email=email,
        full_name="Olive",
        password=PASSWORD,
        verified=True,
        plan=plan,
    )
    return (await core.auth.login(email=email, password=PASSWORD)).token


@pytest.fixture
async def app_client(chat_core: Core) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(chat_core)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://apsara.test") as c:
            yield c


def sdk(client: httpx.AsyncClient, token: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url="http://apsara.test/v1", api_key=token, http_client=client, max_retries=0
    )


async def test_stateless_completion_streamed_and_not(chat_core, app_client, fake_openai):
    oai = await declare(chat_core, "openai", fake_openai)
    token = await sign_in(chat_core, "o@example.com")
    client = sdk(app_client, token)
    r = await client.chat.completions.create(
        model=oai.model,
        messages=[{"role": "system", "content": "Be brief"}, {"role": "user", "content": "hi"}],
    )
    assert r.choices[0].message.content == "[sys:Be brief] Echo: hi (turns=1)"
    assert r.choices[0].finish_reason == "stop" and r.usage.prompt_tokens > 0
    stream = await client.chat.completions.create(
        model=oai.think_model,
        messages=[{"role": "user", "content": "why"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, thoughts, usage, finish = "", "", None, None
    async for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            thoughts += getattr(choice.delta, "reasoning_content", None) or ""
            finish = choice.finish_reason or finish
    assert (text, thoughts, finish) == ("Echo: why (turns=1)", "Thinking about: why", "stop")
    assert usage is not None and usage.completion_tokens_details.reasoning_tokens > 0
    me = await chat_core.auth.verify_token(token)
    assert await chat_core.db.messages.count_documents({}) == 0  # stateless: nothing stored
    assert await used(chat_core, me, oai.model) == 1
    assert await used(chat_core, me, oai.think_model) == 1


async def test_gemini_and_anthropic_through_the_endpoint(
    chat_core, app_client, fake_anthropic, fake_gemini
):
    claude = await declare(chat_core, "anthropic", fake_anthropic)
    client = sdk(app_client, await sign_in(chat_core, "c@example.com"))
    for model in (claude.model, "gemini-2.5-flash"):
        r = await client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "yo"}]
        )
        assert r.choices[0].message.content.endswith("Echo: yo (turns=1)"), model


async def test_conversation_extension_appends_with_history(chat_core, app_client, fake_openai):
    oai = await declare(chat_core, "openai", fake_openai)
    token = await sign_in(chat_core, "h@example.com")
    me = await chat_core.auth.verify_token(token)
    conv = await chat_core.conversations.create(actor=me, title="API")
    cid = conv["conversationId"]
    client = sdk(app_client, token)
    await client.chat.completions.create(
        model=oai.model,
        messages=[{"role": "user", "content": "first"}],
        extra_body={"conversation": cid},
    )
    stream = await client.chat.completions.create(
        model=oai.model,
        messages=[{"role": "user", "content": "second"}],
        stream=True,
        extra_headers={"X-Apsara-Conversation": cid},
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "Echo: second (turns=3)"  # the stored history went along
    assert [m["content"]["text"] for m in await stored(chat_core, cid)] == [
        "first",
        "Echo: first (turns=1)",
        "second",
        "Echo: second (turns=3)",
    ]
    assert await used(chat_core, me, oai.model) == 2


async def test_models_lists_what_the_plan_allows_and_errors_map_to_sdk_classes(
    chat_core, app_client, fake_openai
):
    oai = await declare(chat_core, "openai", fake_openai, plans=("premium",))
    premium = sdk(app_client, await sign_in(chat_core, "p@example.com"))
    free = sdk(app_client, await sign_in(chat_core, "f@example.com", plan="free"))
    premium_ids = {m.id async for m in premium.models.list()}
    free_ids = {m.id async for m in free.models.list()}
    assert {oai.model, oai.think_model, "gemini-2.5-flash"} <= premium_ids
    assert oai.model not in free_ids and "gemini-2.5-flash" in free_ids
    with pytest.raises(openai.PermissionDeniedError) as refused:
        await free.chat.completions.create(
            model=oai.model, messages=[{"role": "user", "content": "x"}]
        )
    assert refused.value.body["code"] == "MODEL_NOT_IN_PLAN"
    with pytest.raises(openai.AuthenticationError):
        await sdk(app_client, "bogus").chat.completions.create(
            model=oai.model, messages=[{"role": "user", "content": "x"}]
        )
    with pytest.raises(openai.BadRequestError) as bad:
        await premium.chat.completions.create(
            model=oai.model, messages=[{"role": "assistant", "content": "x"}]
        )
    assert bad.value.body["param"] == "messages"
    await chat_core.plans.set_limit(
        actor=Principal.operator(), plan="premium", model=oai.model, daily=1
    )
    await premium.chat.completions.create(
        model=oai.model, messages=[{"role": "user", "content": "x"}]
    )
    with pytest.raises(openai.RateLimitError):
        await premium.chat.completions.create(
            model=oai.model, messages=[{"role": "user", "content": "x"}], stream=True
        )


async def test_a_cut_mid_stream_reaches_the_sdk_as_an_error(chat_core, app_client, fake_openai):
    oai = await declare(chat_core, "openai", fake_openai)
    client = sdk(app_client, await sign_in(chat_core, "x@example.com"))
    fake_openai.script("cut:1")
    stream = await client.chat.completions.create(
        model=oai.model, messages=[{"role": "user", "content": "one two"}], stream=True
    )
    got = ""
    with pytest.raises(openai.APIError):
        async for chunk in stream:
            got += chunk.choices[0].delta.content or "" if chunk.choices else ""
    assert got == "Echo: "


async def test_a_model_group_is_listed_and_metered_as_one_allowance(
    chat_core, app_client, fake_openai
):
    oai = await declare(chat_core, "openai", fake_openai, plans=())
    await chat_core.plans.set_group(
        actor=Principal.operator(),
        plan="free",
        group="oai",
        models=[oai.model, oai.think_model],
        daily=2,
    )
    free = sdk(app_client, await sign_in(chat_core, "g@example.com", plan="free"))
    assert {oai.model, oai.think_model} <= {m.id async for m in free.models.list()}
    for model in (oai.model, oai.think_model):
        await free.chat.completions.create(model=model, messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.RateLimitError) as refused:
        await free.chat.completions.create(
            model=oai.model, messages=[{"role": "user", "content": "x"}]
        )
    assert "group oai" in str(refused.value.body)


async def test_a_bad_sampling_field_is_named_as_the_caller_sent_it(chat_core, app_client):
    token = await sign_in(chat_core, "s@example.com")
    auth = {"Authorization": f"Bearer {token}"}
    turn = [{"role": "user", "content": "hi"}]
    cases = [
        ({"temperature": "hot"}, "temperature", "temperature must be a number from 0 to 2"),
        ({"top_p": 3}, "top_p", "top_p must be a number from 0 to 1"),
        ({"max_tokens": -1}, "max_tokens", "max_tokens must be a whole number"),
        ({"max_completion_tokens": 0}, "max_completion_tokens", "max_completion_tokens must"),
        ({"stop": 5}, "stop", "stop"),
        ({"stream": "yes"}, "stream", "stream must be true or false"),
    ]
    for extra, param, message in cases:
        r = await app_client.post(
            "/v1/chat/completions",
            json={"model": "gemini-2.5-flash", "messages": turn, **extra},
            headers=auth,
        )
        error = r.json()["error"]
        assert r.status_code == 400 and error["param"] == param, (extra, r.text)
        assert error["message"].startswith(message) and "config." not in error["message"]
    assert await chat_core.db.usage_daily.count_documents({}) == 0  # nothing metered
