"""The original endpoints end to end, as a client app uses them: register, verify, login,
conversations, generation (JSON and server-sent events) through the fake Gemini, logout."""

from __future__ import annotations

import json
import re

import httpx

from apsara_core.core import Core
from apsara_core.services.sessions import OPERATOR


async def _code(core: Core, email: str) -> str:
    mail = (await core.mail.outbox(actor=OPERATOR, to=email, limit=1))[0]
    found = re.search(r"\b(\d{6})\b", mail["subject"] + " " + mail["body"])
    assert found, mail
    return found.group(1)


async def _signed_in(
    api: httpx.AsyncClient, core: Core, email: str = "john@example.com"
) -> dict[str, str]:
    resp = await api.post(
        "/api/users/register",
        json={
            "fullName": "John Doe",
            "email": email,
            "password": "correct horse battery",
            "acceptTerms": True,
        },
    )
    assert resp.status_code == 201, resp.text
    resp = await api.post(
        "/api/users/verify-email", json={"email": email, "otp": await _code(core, email)}
    )
    assert resp.status_code == 200, resp.text
    resp = await api.post(
        "/api/users/login", json={"email": email, "password": "correct horse battery"}
    )
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['token']}"}


async def test_register_login_chat_logout(api: httpx.AsyncClient, chat_core: Core) -> None:
    auth = await _signed_in(api, chat_core)
    me = (await api.get("/api/users/me", headers=auth)).json()["user"]
    assert me["email"] == "john@example.com" and "password" not in me

    conv = await api.post(
        "/api/conversations",
        headers=auth,
        json={"title": "Quick Test", "systemInstruction": "You are a helpful assistant."},
    )
    assert conv.status_code == 201, conv.text
    cid = conv.json()["conversationId"]

    reply = await api.post(
        "/api/ai/generate",
        headers=auth,
        json={
            "conversationId": cid,
            "contents": "Hello! Explain AI in simple terms.",
            "model": "gemini-2.5-flash",
            "config": {"thinkingConfig": {"includeThoughts": True}},
        },
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["success"] is True and "Echo: Hello! Explain AI" in body["text"]
    assert body["thoughts"] and body["usageMetadata"]["totalTokenCount"] > 0

    async with api.stream(
        "POST",
        "/api/ai/generate/stream",
        headers=auth,
        json={"conversationId": cid, "contents": "second turn"},
    ) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        events = [
            json.loads(line[6:]) async for line in resp.aiter_lines() if line.startswith("data: ")
        ]
    kinds = [e["type"] for e in events]
    assert "text" in kinds and kinds[-1] == "done"
    assert "turns=3" in events[-1]["data"]["text"]  # history went in

    msgs = (await api.get(f"/api/conversations/{cid}/messages", headers=auth)).json()["messages"]
    assert [m["messageSequence"] for m in msgs] == [1, 2, 3, 4]

    assert (await api.post("/api/users/logout", headers=auth)).status_code == 200
    after = await api.get("/api/conversations", headers=auth)
    assert after.status_code == 401 and after.json()["success"] is False


async def test_other_users_conversation_is_404_and_body_user_id_ignored(
    api: httpx.AsyncClient, chat_core: Core
) -> None:
    alice = await _signed_in(api, chat_core, "alice@example.com")
    bob = await _signed_in(api, chat_core, "bob@example.com")
    cid = (await api.post("/api/conversations", headers=alice, json={"title": "A"})).json()[
        "conversationId"
    ]
    for resp in (
        await api.get(f"/api/conversations/{cid}", headers=bob),
        await api.get("/api/conversations/nope", headers=bob),
        await api.post(
            "/api/ai/generate", headers=bob, json={"conversationId": cid, "contents": "x"}
        ),
    ):
        assert resp.status_code == 404 and resp.json()["code"] == "NOT_FOUND"
    alice_id = (await api.get("/api/users/me", headers=alice)).json()["user"]["_id"]
    made = await api.post(
        "/api/conversations", headers=bob, json={"title": "B", "userId": alice_id}
    )
    assert made.json()["conversation"]["userId"] != alice_id


async def test_hostile_bodies_are_refused_naming_the_field(api: httpx.AsyncClient) -> None:
    resp = await api.post("/api/users/login", json={"email": {"$ne": None}, "password": "x"})
    assert resp.status_code == 400 and resp.json()["field"] == "email"
    resp = await api.post(
        "/api/users/register",
        json={
            "fullName": "X",
            "email": "x@example.com",
            "password": "long enough pw",
            "acceptTerms": True,
            "role": "admin",
        },
    )
    assert resp.status_code == 400 and resp.json()["field"] == "role"
    resp = await api.post("/api/users/login", content=b"not json")
    assert resp.status_code == 400 and resp.json()["field"] == "body"


async def test_rate_limited_generation_carries_usage_and_reset(api: httpx.AsyncClient) -> None:
    guest = await api.post("/api/users/guest-login", json={"clientKey": "device-1"})
    assert guest.status_code == 201, guest.text
    auth = {"Authorization": f"Bearer {guest.json()['token']}"}
    cid = (await api.post("/api/conversations", headers=auth, json={"title": "G"})).json()[
        "conversationId"
    ]
    codes = [
        (
            await api.post(
                "/api/ai/generate",
                headers=auth,
                json={"conversationId": cid, "contents": f"hi {i}"},
            )
        ).status_code
        for i in range(6)
    ]
    assert codes == [200] * 5 + [429]
    refused = await api.post(
        "/api/ai/generate", headers=auth, json={"conversationId": cid, "contents": "again"}
    )
    body = refused.json()
    assert (
        body["error"] == "Rate limit exceeded" and body["usageInfo"]["subscriptionPlan"] == "guest"
    )
