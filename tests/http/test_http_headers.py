"""Honest headers and codes: Retry-After on 429 and 423, X-RateLimit-* on every response,
415 for a body that is not JSON, WWW-Authenticate on 401, Allow on 405, error fields in the
request's own names, suggestions that name HTTP routes."""

from __future__ import annotations

import httpx

from apsara_core.core import Core
from tests.factories import registered_user
from tests.http.test_http_statuses import conversation, signed_in

RATE = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")


async def test_the_limiters_own_429_has_retry_after_rate_headers_and_usage(
    http: httpx.AsyncClient, core: Core
) -> None:
    core.request_limiter.max_requests = 2
    for _ in range(2):
        resp = await http.get("/api/conversations")
        assert resp.status_code == 401 and all(h in resp.headers for h in RATE)
    refused = await http.get("/api/conversations")
    assert refused.status_code == 429
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert 1 <= int(refused.headers["retry-after"]) <= 900
    usage = refused.json()["usageInfo"]
    assert usage == {"scope": "requests", "limit": 2, "remaining": 0, "windowMs": 900_000}
    health = await http.get("/api/health")  # exempt, but shows the standing
    assert health.status_code == 200 and health.headers["x-ratelimit-remaining"] == "0"


async def test_a_lock_answers_423_with_retry_after(http: httpx.AsyncClient, core: Core) -> None:
    await registered_user(core, "lock@example.com")
    for _ in range(6):
        resp = await http.post(
            "/api/users/login", json={"email": "lock@example.com", "password": "Wrong-pass-1"}
        )
    assert resp.status_code == 423 and resp.headers["retry-after"] == "900"
    assert all("apsara " not in s for s in resp.json()["suggestions"])


async def test_non_json_bodies_get_415(http: httpx.AsyncClient) -> None:
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
        resp = await http.post(
            "/api/users/login", content=b'{"email":"a@b.co"}', headers={"Content-Type": ctype}
        )
        assert resp.status_code == 415, ctype
        assert resp.json()["code"] == "UNSUPPORTED_MEDIA_TYPE"
    ok = await http.post(
        "/api/users/guest-login",
        content=b"{}",
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert ok.status_code == 201
    upload = await http.post(
        "/api/files/upload",
        content=b"{}",
        headers={"Content-Type": "application/json", "Authorization": "Bearer x"},
    )
    assert upload.status_code in (401, 415)


async def test_401_says_bearer_and_405_says_allow(http: httpx.AsyncClient) -> None:
    missing = await http.get("/api/users/me")
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    bad = await http.get("/api/users/me", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["www-authenticate"]
    resp = await http.post("/api/conversations/c_1")
    assert resp.status_code == 405
    assert set(resp.headers["allow"].split(", ")) >= {"GET", "PUT", "DELETE"}
    assert (await http.delete("/api/health")).headers["allow"].startswith("GET")
    options = await http.options("/api/health")  # every method Allow names is answered
    assert options.status_code == 204 and "OPTIONS" in options.headers["allow"]


async def test_errors_name_the_requests_fields_and_http_routes(api, chat_core) -> None:
    auth, _ = await signed_in(chat_core, "names@example.com")
    cid = await conversation(api, auth)
    empty = await api.post(
        "/api/ai/generate", headers=auth, json={"conversationId": cid, "contents": ""}
    )
    assert empty.status_code == 400 and empty.json()["field"] == "contents", empty.text
    assert "contents" in empty.json()["details"]
    first = await api.post(
        "/api/ai/generate", headers=auth, json={"conversationId": cid, "contents": "hi"}
    )
    edit = await api.post(
        "/api/ai/edit-message",
        headers=auth,
        json={"conversationId": cid, "messageId": first.json()["userMessageId"], "newContent": ""},
    )
    assert edit.status_code == 400 and edit.json()["field"] == "newContent", edit.text
    batch = await api.post("/api/ai/embeddings", headers=auth, json={"contents": ["a", ""]})
    assert batch.status_code == 400 and batch.json()["field"] == "contents[1]", batch.text
    unknown = await api.get("/api/conversations/c_unknown", headers=auth)
    assert unknown.json()["suggestions"] == ["List conversations: GET /api/conversations"]
