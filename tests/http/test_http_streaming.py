"""Streaming on the main chat routes: `"stream": true` or `Accept: text/event-stream` gives
the same server-sent events as the /stream routes (one code path); a client that leaves
cancels the upstream call and the partial reply is kept."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from apsara_core.core import Core
from apsara_core.http.app import create_app
from tests.core.chat_helpers import stored
from tests.http.test_http_statuses import conversation, signed_in


async def events(api: httpx.AsyncClient, path: str, auth: dict, body: dict, **kw: Any) -> list:
    async with api.stream("POST", path, headers={**auth, **kw}, json=body) as resp:
        assert resp.status_code == 200, await resp.aread()
        assert resp.headers["content-type"].startswith("text/event-stream")
        return [json.loads(x[6:]) async for x in resp.aiter_lines() if x.startswith("data: ")]


async def test_main_routes_stream_on_request(api, chat_core) -> None:
    auth, _ = await signed_in(chat_core, "sse@example.com")
    cid = await conversation(api, auth)
    flagged = await events(
        api, "/api/ai/generate", auth, {"conversationId": cid, "contents": "one", "stream": True}
    )
    assert [flagged[0]["type"], flagged[-1]["type"]] == ["started", "done"]
    accepted = await events(
        api,
        "/api/ai/regenerate",
        auth,
        {"conversationId": cid},
        Accept="text/event-stream",
    )
    assert accepted[-1]["type"] == "done"
    user_id = flagged[0]["data"]["userMessageId"]
    edited = await events(
        api,
        "/api/ai/edit-message",
        auth,
        {"conversationId": cid, "messageId": user_id, "newContent": "two", "stream": True},
    )
    assert "".join(e["text"] for e in edited if e["type"] == "text").startswith("Echo: two")
    plain = await api.post(
        "/api/ai/generate", headers=auth, json={"conversationId": cid, "contents": "three"}
    )
    assert plain.headers["content-type"] == "application/json" and plain.json()["success"]
    refused = await api.post(
        "/api/ai/generate",
        headers=auth,
        json={"conversationId": "c_x", "contents": "x", "stream": True},
    )
    assert refused.status_code == 404 and refused.json()["field"] == "conversationId"


async def test_a_client_leaving_a_stream_cancels_and_keeps_the_partial(
    chat_core: Core, fake_gemini
) -> None:
    app = create_app(chat_core)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as api:
            auth, _ = await signed_in(chat_core, "leave@example.com")
            cid = await conversation(api, auth)
        fake_gemini.script("stall:5000")  # some text, then nothing for 5 s
        body = json.dumps({"conversationId": cid, "contents": "one two three four"}).encode()
        sent: list[dict] = []
        got_text, leave = asyncio.Event(), asyncio.Event()
        delivered = False

        async def receive() -> dict:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await leave.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            sent.append(message)
            if b'"type": "text"' in message.get("body", b""):
                got_text.set()

        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/api/ai/generate",
            "raw_path": b"/api/ai/generate",
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"t"),
                (b"content-type", b"application/json"),
                (b"accept", b"text/event-stream"),
                (b"authorization", auth["Authorization"].encode()),
            ],
            "client": ("127.0.0.1", 5000),
            "server": ("t", 80),
            "app": app,
            "state": {},
        }
        task = asyncio.create_task(app(scope, receive, send))
        await asyncio.wait_for(got_text.wait(), 10)
        leave.set()
        await asyncio.wait_for(task, 3)  # well before the 5 s stall ends: upstream cancelled
        for _ in range(200):  # the partial is settled shielded from the cancellation
            if len(docs := await stored(chat_core, cid)) == 2:
                break
            await asyncio.sleep(0.02)
        model = docs[-1]
        assert model["role"] == "model" and model["metadata"]["status"] == "interrupted"
        assert model["content"]["text"]
