"""Status codes that tell the truth, and errors that carry what was charged.

- Streaming routes answer errors known before the stream starts (unknown or foreign
  conversation, quota, unknown model) with their status and the JSON envelope; only failures
  after the first event ("started") arrive as an "error" event.
- An interrupted reply (a cut, or a stream ending without a finish reason) is stored and
  charged, so its error carries it: text, thoughts, modelMessageId, status "interrupted".
- The server's configuration (Google sign-in, the Gemini key) is never blamed on the client.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from apsara_core.core import Core
from apsara_core.errors import RateLimitError
from tests.core.chat_helpers import stored, used
from tests.factories import STRONG_PASSWORD, principal_of, registered_user

STREAMS = ("/api/ai/generate/stream", "/api/ai/edit-message/stream", "/api/ai/regenerate/stream")
THOUGHTS = {"thinkingConfig": {"includeThoughts": True}}


async def signed_in(core: Core, email: str, plan: str = "premium") -> tuple[dict[str, str], Any]:
    """(auth headers, principal) of a registered user on `plan`."""
    user = await registered_user(core, email)
    await core.db.users.update_one({"_id": user["_id"]}, {"$set": {"subscriptionPlan": plan}})
    session = await core.auth.login(email=email, password=STRONG_PASSWORD)
    return {"Authorization": f"Bearer {session.token}"}, principal_of(
        {**user, "subscriptionPlan": plan}
    )


async def conversation(api: httpx.AsyncClient, auth: dict[str, str]) -> str:
    resp = await api.post("/api/conversations", headers=auth, json={"title": "T"})
    return resp.json()["conversationId"]


async def sse(api: httpx.AsyncClient, path: str, auth: dict[str, str], body: dict) -> list[dict]:
    async with api.stream("POST", path, headers=auth, json=body) as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith(
            "text/event-stream"
        )
        return [
            json.loads(line[6:]) async for line in resp.aiter_lines() if line.startswith("data: ")
        ]


def bodies(cid: str, message_id: str = "m_none", **extra: Any) -> dict[str, dict]:
    """A body per streaming route, for conversation `cid`."""
    return {
        STREAMS[0]: {"conversationId": cid, "contents": "hello", **extra},
        STREAMS[1]: {
            "conversationId": cid,
            "messageId": message_id,
            "newContent": "hi again",
            **extra,
        },
        STREAMS[2]: {"conversationId": cid, **extra},
    }


async def test_streams_answer_early_errors_with_their_status(api, chat_core) -> None:
    alice, _ = await signed_in(chat_core, "alice@example.com")
    bob, _ = await signed_in(chat_core, "bob@example.com")
    cid = await conversation(api, alice)
    first = (
        await api.post(
            "/api/ai/generate", headers=alice, json={"conversationId": cid, "contents": "hi"}
        )
    ).json()
    for path, body in bodies(cid, first["userMessageId"]).items():
        for auth, overrides, status, code, field in [
            (alice, {"conversationId": "c_unknown"}, 404, "NOT_FOUND", "conversationId"),
            (bob, {}, 404, "NOT_FOUND", "conversationId"),  # someone else's
            (alice, {"model": "gpt-nope"}, 400, "VALIDATION_ERROR", "model"),
        ]:
            resp = await api.post(path, headers=auth, json={**body, **overrides})
            assert resp.status_code == status and resp.headers["content-type"] == "application/json"
            envelope = resp.json()
            assert (envelope["success"], envelope["code"], envelope["field"]) == (
                False,
                code,
                field,
            )
    assert len(await stored(chat_core, cid)) == 2  # nothing written by the refused calls


async def test_streams_answer_the_quota_with_429_usage_and_reset(api, chat_core) -> None:
    auth, actor = await signed_in(chat_core, "free@example.com", plan="free")
    cid = await conversation(api, auth)
    first = (
        await api.post(
            "/api/ai/generate", headers=auth, json={"conversationId": cid, "contents": "hi"}
        )
    ).json()
    while True:  # use up today's allowance through the limits service itself
        try:
            await chat_core.limits.reserve(actor=actor, model="gemini-2.5-flash")
        except RateLimitError:
            break
    for path, body in bodies(cid, first["userMessageId"]).items():
        resp = await api.post(path, headers=auth, json=body)
        assert resp.status_code == 429, resp.text
        envelope = resp.json()
        assert envelope["code"] == "RATE_LIMIT_EXCEEDED" and envelope["resetTime"].endswith(
            "T00:00:00Z"
        )
        assert envelope["usageInfo"]["subscriptionPlan"] == "free"
        assert envelope["usageInfo"]["dailyUsage"]["gemini-2.5-flash"]["limit"] == 20


async def test_a_stream_starts_then_reports_later_failures_as_events(
    api, chat_core, fake_gemini
) -> None:
    auth, _ = await signed_in(chat_core, "carol@example.com")
    cid = await conversation(api, auth)
    events = await sse(api, STREAMS[0], auth, {"conversationId": cid, "contents": "one"})
    assert [events[0]["type"], events[-1]["type"]] == ["started", "done"]
    assert events[0]["data"]["userMessageId"] == events[-1]["data"]["userMessageId"]
    fake_gemini.script("503", "503", "503")
    events = await sse(api, STREAMS[0], auth, {"conversationId": cid, "contents": "two"})
    assert [e["type"] for e in events] == ["started", "error"]
    assert events[1]["data"]["code"] == "PROVIDER_UNAVAILABLE"


async def test_an_interrupted_reply_is_returned_with_the_error(api, chat_core, fake_gemini) -> None:
    auth, actor = await signed_in(chat_core, "dan@example.com")
    cid = await conversation(api, auth)
    calls = [("/api/ai/generate", {"conversationId": cid, "contents": "one two three four"})]
    fake_gemini.script("cut:2")
    first = await api.post(*calls[0][:1], headers=auth, json={**calls[0][1], "config": THOUGHTS})
    partial = first.json()
    model = (await stored(chat_core, cid))[-1]
    assert first.status_code == 503 and partial["code"] == "PROVIDER_UNAVAILABLE"
    assert partial["status"] == "interrupted" == model["metadata"]["status"]
    assert partial["modelMessageId"] == model["messageId"]
    assert partial["text"] == model["content"]["text"] != ""
    assert partial["thoughts"] == model["content"]["thoughts"] != ""
    assert partial["conversationId"] == cid and partial["success"] is False
    for path, body in [
        (
            "/api/ai/edit-message",
            {
                "conversationId": cid,
                "newContent": "five six seven",
                "messageId": partial["userMessageId"],
            },
        ),
        ("/api/ai/regenerate", {"conversationId": cid}),
    ]:
        fake_gemini.script("nofinish:2")  # a clean end without a finish reason
        resp = await api.post(path, headers=auth, json=body)
        model = (await stored(chat_core, cid))[-1]
        assert resp.status_code == 503 and resp.json()["status"] == "interrupted", resp.text
        assert resp.json()["modelMessageId"] == model["messageId"]
        assert resp.json()["text"] == model["content"]["text"] != "" and resp.json()["branchId"]
    assert await used(chat_core, actor) == 3  # three partial replies charged, three delivered


async def test_an_interrupted_stream_says_which_reply_was_kept(api, chat_core, fake_gemini) -> None:
    auth, _ = await signed_in(chat_core, "erin@example.com")
    cid = await conversation(api, auth)
    fake_gemini.script("cut:2")
    events = await sse(
        api, STREAMS[0], auth, {"conversationId": cid, "contents": "one two three four"}
    )
    model = (await stored(chat_core, cid))[-1]
    error = events[-1]["data"]
    assert events[-1]["type"] == "error" and error["status"] == "interrupted"
    assert error["modelMessageId"] == model["messageId"]
    assert error["text"] == "".join(e["text"] for e in events if e["type"] == "text")


async def test_server_configuration_is_never_the_clients_fault(api, chat_core, fake_gemini) -> None:
    resp = await api.post("/api/users/google-auth", json={"idToken": "a.b.c"})
    assert resp.status_code == 503 and resp.json()["code"] == "GOOGLE_SIGNIN_NOT_CONFIGURED"
    auth, _ = await signed_in(chat_core, "fay@example.com")
    cid = await conversation(api, auth)
    for fault in ("401", "403"):  # Gemini refusing the server's key
        fake_gemini.script(fault)
        resp = await api.post(
            "/api/ai/generate", headers=auth, json={"conversationId": cid, "contents": "hi"}
        )
        assert resp.status_code == 502 and resp.json()["code"] == "PROVIDER_AUTH_FAILED"
    fake_gemini.script("400")
    resp = await api.post(
        "/api/ai/generate", headers=auth, json={"conversationId": cid, "contents": "hi"}
    )
    assert resp.status_code == 400 and resp.json()["code"] == "PROVIDER_BAD_REQUEST"
