"""`apsara provider add|list|test|remove` and `ai send --model NAME/MODEL` as an operator runs them."""

from __future__ import annotations

import json

from tests.factories import create_user
from tests.fakes.provider_fixtures import OPENAI_KEY_ENV


def ok(result):
    assert result.returncode == 0, result.stderr
    return result


async def test_provider_lifecycle_and_routing(core, cli, fake_openai):
    env = {OPENAI_KEY_ENV: "sk-fake"}
    added = json.loads(
        ok(
            cli(
                "provider",
                "add",
                "ollama",
                "--kind",
                "openai",
                "--base-url",
                fake_openai.base_url,
                "--api-key-env",
                OPENAI_KEY_ENV,
                "--model",
                "llama3.2:3b,window=131072",
                "--model",
                "deepseek-r1:8b,thinks",
                "--json",
                **env,
            )
        ).stdout
    )
    assert added["modelIds"] == ["ollama/llama3.2:3b", "ollama/deepseek-r1:8b"]
    stored = await core.db.provider_instances.find_one({"_id": "ollama"})
    assert stored["apiKeyEnv"] == OPENAI_KEY_ENV and "sk-fake" not in json.dumps(
        stored, default=str
    )
    listed = json.loads(ok(cli("provider", "list", "--json")).stdout)
    assert [(p["name"], p["kind"], p["baseUrl"]) for p in listed] == [
        ("ollama", "openai", fake_openai.base_url)
    ]
    assert "llama3.2:3b" in ok(cli("provider", "list")).stdout

    tested = ok(cli("provider", "test", "ollama", **env))
    assert "OK in" in tested.stdout and "ms" in tested.stdout
    fake_openai.script("401")
    failed = cli("provider", "test", "ollama", "--json", **env)
    assert failed.returncode == 1
    assert json.loads(failed.stdout)["error"]["code"] == "PROVIDER_AUTH_FAILED"
    no_key = cli("provider", "test", "ollama", **{OPENAI_KEY_ENV: ""})
    assert no_key.returncode == 1 and OPENAI_KEY_ENV in no_key.stderr

    await create_user(core, "ann@example.com", plan="premium")
    cid = json.loads(
        ok(cli("conv", "create", "--user", "ann@example.com", "--title", "T", "--json")).stdout
    )["conversationId"]
    refused = cli("ai", "send", "--conversation", cid, "--model", "ollama/llama3.2:3b", "hi", **env)
    assert refused.returncode == 1 and "No plan includes ollama/llama3.2:3b" in refused.stderr
    ok(cli("plan", "set", "premium", "--model", "ollama/llama3.2:3b", "--daily", "5"))
    sent = ok(
        cli("ai", "send", "--conversation", cid, "--model", "ollama/llama3.2:3b", "hi", **env)
    )
    assert "Echo: hi (turns=1)" in sent.stdout
    assert fake_openai.chat_calls()[-1]["model"] == "llama3.2:3b"

    ok(cli("provider", "remove", "ollama"))
    gone = cli("ai", "send", "--conversation", cid, "--model", "ollama/llama3.2:3b", "hi", **env)
    assert gone.returncode == 1 and "Unknown model" in gone.stderr
    assert (
        await core.db.audit.count_documents(
            {"action": {"$in": ["provider.add", "provider.remove"]}}
        )
        == 2
    )


async def test_provider_add_bad_input_names_the_field(core, cli, fake_openai):
    cases = [
        (["google", "--kind", "openai", "--model", "m"], "built-in Gemini provider"),
        (["x", "--kind", "cohere", "--model", "m"], "kind must be one of openai, anthropic"),
        (["x", "--kind", "openai", "--base-url", "ftp://h", "--model", "m"], "baseUrl must be"),
        (["x", "--kind", "openai"], "at least one --model"),
        (["x", "--kind", "openai", "--model", "m,fast"], "unknown option 'fast'"),
        (["x", "--kind", "openai", "--api-key-env", "sk-123", "--model", "m"], "apiKeyEnv must be"),
        (["x", "--kind", "anthropic", "--model", "m"], "needs --api-key-env"),
    ]
    for args, message in cases:
        result = cli("provider", "add", *args)
        assert result.returncode == 1 and message in result.stderr, (args, result.stderr)
    ok(cli("provider", "add", "x", "--kind", "openai", "--model", "m"))
    dup = cli("provider", "add", "x", "--kind", "openai", "--model", "m")
    assert dup.returncode == 1 and "exists already" in dup.stderr
    assert await core.db.provider_instances.count_documents({}) == 1
