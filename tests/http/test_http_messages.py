"""Single-message routes: DELETE a message, search a conversation, list and switch versions."""

from __future__ import annotations

import httpx

from apsara_core.core import Core
from tests.http.test_http_flow import _signed_in


async def _chat(api: httpx.AsyncClient, auth: dict[str, str], *texts: str) -> tuple[str, list]:
    conv = await api.post("/api/conversations", headers=auth, json={"title": "T"})
    cid = conv.json()["conversationId"]
    for text in texts:
        resp = await api.post(
            "/api/ai/generate", headers=auth, json={"conversationId": cid, "contents": text}
        )
        assert resp.status_code == 200, resp.text
    msgs = (await api.get(f"/api/conversations/{cid}/messages", headers=auth)).json()["messages"]
    return cid, msgs


async def test_delete_one_message(api: httpx.AsyncClient, chat_core: Core) -> None:
    auth = await _signed_in(api, chat_core)
    cid, msgs = await _chat(api, auth, "one", "two")
    url = f"/api/conversations/{cid}/messages/{msgs[2]['messageId']}"
    refused = await api.delete(url, headers=auth)
    assert refused.status_code == 409 and refused.json()["field"] == "withReply"
    assert "reply #4" in refused.json()["details"]
    bad = await api.delete(url + "?withReply=maybe", headers=auth)
    assert bad.status_code == 400 and bad.json()["field"] == "withReply"
    gone = await api.delete(url + "?withReply=true", headers=auth)
    assert gone.status_code == 200, gone.text
    assert [d["messageSequence"] for d in gone.json()["deleted"]["deleted"]] == [3, 4]
    again = await api.delete(url, headers=auth)
    assert again.status_code == 404 and again.json()["field"] == "messageId"
    left = await api.get(f"/api/conversations/{cid}", headers=auth)
    assert left.json()["conversation"]["stats"]["totalMessages"] == 2

    other = await _signed_in(api, chat_core, "eve@example.com")
    theirs = await api.delete(
        f"/api/conversations/{cid}/messages/{msgs[1]['messageId']}", headers=other
    )
    assert theirs.status_code == 404


async def test_search_a_conversation(api: httpx.AsyncClient, chat_core: Core) -> None:
    auth = await _signed_in(api, chat_core)
    cid, _ = await _chat(api, auth, "pack the Tent", "food")
    found = await api.get(f"/api/conversations/{cid}/search?query=tent&limit=1", headers=auth)
    body = found.json()
    assert found.status_code == 200 and body["hasMore"] is True
    assert [(i["messageSequence"], i["role"]) for i in body["items"]] == [(2, "model")]
    missing = await api.get(f"/api/conversations/{cid}/search", headers=auth)
    assert missing.status_code == 400 and missing.json()["field"] == "query"


async def test_versions_and_switch(api: httpx.AsyncClient, chat_core: Core) -> None:
    auth = await _signed_in(api, chat_core)
    cid, msgs = await _chat(api, auth, "one", "two")
    resp = await api.post(
        "/api/ai/regenerate",
        headers=auth,
        json={"conversationId": cid, "messageId": msgs[1]["messageId"]},
    )
    assert resp.status_code == 200, resp.text
    listed = (await api.get(f"/api/conversations/{cid}/versions", headers=auth)).json()
    (fork,) = listed["versions"]
    assert listed["count"] == 1 and fork["current"] == 2
    url = f"/api/conversations/{cid}/messages/{fork['messageId']}/version"
    out = await api.post(url, headers=auth, json={"version": 1})
    assert out.status_code == 200, out.text
    assert out.json()["switched"] is True and out.json()["messageId"] == msgs[1]["messageId"]
    now = (await api.get(f"/api/conversations/{cid}/messages", headers=auth)).json()["messages"]
    assert [m["messageId"] for m in now] == [m["messageId"] for m in msgs]
    url = f"/api/conversations/{cid}/messages/{msgs[1]['messageId']}/version"
    over = await api.post(url, headers=auth, json={"version": 3})
    assert over.status_code == 400 and over.json()["field"] == "version"
