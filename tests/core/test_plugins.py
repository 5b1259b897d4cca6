"""Plugins: the registry (entry points), the calculator's rules, and sync calls stored as tool
messages, with and without the model's answer (real SDK against the fake Gemini)."""

from __future__ import annotations

import json

import pytest

from apsara_core.errors import NotFoundError, PluginCallError, ValidationError
from apsara_core.plugins import PluginRegistry
from apsara_core.plugins.builtins import calculate
from tests.core.chat_helpers import new_conv, premium, stored, used


def test_builtins_and_a_third_party_package_come_through_entry_points(acme):
    registry = PluginRegistry()
    keys = [p.key for p in registry.all()]
    assert "google/calculator" in keys and "google/echo" in keys and "acme/sleep" in keys
    assert registry.get("google", "calculator").source == "apsara_core.plugins.builtins:plugins"
    (broken,) = registry.broken
    assert broken.entry_point == "broken" and "acme_plugins_missing" in broken.error
    schema = registry.get("google", "calculator").schema()
    assert set(schema["required"]) == {"number1", "number2", "operation"}


def test_unknown_provider_or_plugin_lists_what_exists():
    registry = PluginRegistry()
    with pytest.raises(NotFoundError, match="providers: google"):
        registry.get("nope", "calculator")
    with pytest.raises(NotFoundError, match="calculator, echo"):
        registry.get("google", "abacus")


@pytest.mark.parametrize(
    ("a", "b", "op", "want"),
    [
        (15, 7, "multiply", 105),
        (10**20, 1, "add", 10**20 + 1),
        (2, 100, "power", 2**100),
        (8, 2, "divide", 4),
        (7, 2, "divide", 3.5),
        (-7, 3, "modulo", 2),
        (1.5, 2, "subtract", -0.5),
        (2, -1, "power", 0.5),
    ],
)
def test_calculator_results_are_exact(a, b, op, want):
    result = calculate(a, b, op)
    assert result == want and type(result) is type(want)


@pytest.mark.parametrize(
    ("a", "b", "op", "field", "text"),
    [
        (1, 0, "divide", "number2", "Division by zero"),
        (1, 0, "modulo", "number2", "Modulo by zero"),
        (float("nan"), 1, "add", "number1", "finite"),
        (1, float("inf"), "add", "number2", "finite"),
        (10, 10**9, "power", "number2", "digits"),
        (1e300, 1e300, "multiply", "operation", "not finite"),
        (-8, 0.5, "power", "number2", "not a real number"),
    ],
)
def test_calculator_refuses_clearly(a, b, op, field, text):
    with pytest.raises(ValidationError, match=text) as info:
        calculate(a, b, op)
    assert info.value.field == field


async def test_parameters_are_validated_naming_the_field(chat_core):
    actor = await premium(chat_core)
    call = chat_core.plugins.call
    cases = [
        ({"number1": 1, "operation": "add"}, "parameters.number2", "Field required"),
        (
            {"number1": 1, "number2": 2, "operation": "add", "x": 1},
            "parameters.x",
            "not an accepted",
        ),
        ({"number1": "1", "number2": 2, "operation": "add"}, "parameters.number1", "number1"),
        ({"number1": 1, "number2": 2, "operation": "root"}, "parameters.operation", "operation"),
    ]
    for params, field, text in cases:
        with pytest.raises(ValidationError, match=text) as info:
            await call(actor=actor, provider="google", plugin="calculator", parameters=params)
        assert info.value.field == field
        assert "number1, number2, operation" in info.value.details
    assert await chat_core.db.messages.count_documents({}) == 0  # nothing half-written


async def test_sync_call_stores_a_tool_message(chat_core):
    actor = await premium(chat_core)
    cid = await new_conv(chat_core, actor)
    r = await chat_core.plugins.call(
        actor=actor,
        provider="google",
        plugin="calculator",
        parameters={"number1": 15, "number2": 7, "operation": "multiply"},
        conversation_id=cid,
    )
    assert r["success"] and r["result"]["result"] == 105 and "modelResponse" not in r
    (tool,) = await stored(chat_core, cid)
    assert tool["messageId"] == r["toolMessageId"] and tool["role"] == "tool"
    meta = tool["metadata"]["plugin"]
    assert (meta["provider"], meta["name"], meta["status"]) == ("google", "calculator", "succeeded")
    assert json.loads(meta["parametersJson"])["number1"] == 15
    assert meta["timing"]["durationMs"] >= 0
    assert "105" in tool["content"]["text"]
    assert await used(chat_core, actor) == 0


async def test_sync_call_with_send_to_model_stores_and_meters_the_answer(chat_core, fake_gemini):
    actor = await premium(chat_core)
    r = await chat_core.plugins.call(
        actor=actor,
        provider="google",
        plugin="echo",
        parameters={"message": "hi", "data": {"k": [1, 2]}},
        send_to_model=True,
    )
    assert r["result"] == {"message": "hi", "data": {"k": [1, 2]}}
    reply = r["modelResponse"]
    assert reply["text"].startswith("Echo: [tool result] google/echo called with")
    msgs = await stored(chat_core, r["conversationId"])
    assert [m["role"] for m in msgs] == ["tool", "model"]
    assert msgs[1]["messageId"] == reply["modelMessageId"]
    assert await used(chat_core, actor) == 1


async def test_a_failed_model_call_keeps_the_tool_message_and_refunds(chat_core, fake_gemini):
    actor = await premium(chat_core)
    fake_gemini.script("400")
    r = await chat_core.plugins.call(
        actor=actor,
        provider="google",
        plugin="calculator",
        parameters={"number1": 1, "number2": 2, "operation": "add"},
        send_to_model=True,
    )
    assert r["result"]["result"] == 3 and r["modelError"]["code"] == "PROVIDER_BAD_REQUEST"
    msgs = await stored(chat_core, r["conversationId"])
    assert [m["role"] for m in msgs] == ["tool"]
    assert await used(chat_core, actor) == 0


@pytest.mark.parametrize(
    ("plugin", "code", "text"),
    [
        ("boom", "PLUGIN_FAILED", "RuntimeError: kaboom"),
        ("hang", "PLUGIN_TIMEOUT", "0.3 s timeout"),
        ("object", "PLUGIN_BAD_RESULT", "not JSON-serialisable"),
        ("huge", "PLUGIN_RESULT_TOO_LARGE", "the limit is 1048576"),
    ],
)
async def test_plugin_failures_are_stored_and_answered_clearly(chat_core, acme, plugin, code, text):
    actor = await premium(chat_core)
    params = {"seconds": 5} if plugin == "hang" else {}
    with pytest.raises(PluginCallError, match=text) as info:
        await chat_core.plugins.call(actor=actor, provider="acme", plugin=plugin, parameters=params)
    body = info.value.to_dict()
    assert body["code"] == code and body["toolMessageId"].startswith("msg_call_")
    (tool,) = await stored(chat_core, body["conversationId"])
    assert tool["metadata"]["plugin"]["status"] == "failed"
    assert tool["metadata"]["plugin"]["error"]["code"] == code


async def test_a_calculator_error_is_a_validation_error_naming_the_field(chat_core):
    actor = await premium(chat_core)
    with pytest.raises(PluginCallError, match="Division by zero") as info:
        await chat_core.plugins.call(
            actor=actor,
            provider="google",
            plugin="calculator",
            parameters={"number1": 1, "number2": 0, "operation": "divide"},
        )
    assert info.value.http_status == 400 and info.value.field == "number2"


async def test_regenerate_after_a_tool_message_answers_it_again(chat_core, fake_gemini):
    actor = await premium(chat_core)
    r = await chat_core.plugins.call(
        actor=actor,
        provider="google",
        plugin="calculator",
        parameters={"number1": 2, "number2": 3, "operation": "power"},
        send_to_model=True,
    )
    cid = r["conversationId"]
    again = await chat_core.chat.regenerate(
        actor=actor, conversation_id=cid, message_id=r["toolMessageId"]
    )
    assert again["regeneratedMessageId"] == r["modelResponse"]["modelMessageId"]
    assert again["userMessageId"] == r["toolMessageId"] and "= 8" in again["text"]
    msgs = await stored(chat_core, cid)
    assert [m["messageId"] for m in msgs] == [r["toolMessageId"], again["modelMessageId"]]
