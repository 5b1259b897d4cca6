"""/api/plugins: list, provider, send (sync and async), jobs with ownership, OpenAPI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from apsara_core.core import Core
from tests.http.test_http_files import signed_in

CALC = {"number1": 15, "number2": 7, "operation": "multiply"}


@pytest.fixture
async def worker(chat_core: Core) -> AsyncIterator[None]:
    w = chat_core.worker(concurrency=2, lease_s=3.0, poll_s=0.2)
    w.start()
    yield
    await w.stop()


async def test_list_and_provider(api: httpx.AsyncClient, chat_core: Core) -> None:
    auth = await signed_in(chat_core)
    r = await api.get("/api/plugins/list_plugins", headers=auth)
    assert r.status_code == 200
    keys = [(p["provider"], p["name"]) for p in r.json()["plugins"]]
    assert ("google", "calculator") in keys and ("google", "echo") in keys
    r = await api.get("/api/plugins/google", headers=auth)
    assert r.status_code == 200 and r.json()["provider"] == "google"
    r = await api.get("/api/plugins/nope", headers=auth)
    assert r.status_code == 404 and "providers: google" in r.json()["details"]
    assert (await api.get("/api/plugins/list_plugins")).status_code == 401


async def test_sync_send_with_model(api: httpx.AsyncClient, chat_core: Core, fake_gemini) -> None:
    auth = await signed_in(chat_core)
    body = {"parameters": CALC, "sendToModel": True, "runAsync": False}
    r = await api.post("/api/plugins/google/calculator/send", json=body, headers=auth)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["success"] and data["result"]["result"] == 105
    assert data["toolMessageId"] and data["modelResponse"]["text"].startswith("Echo:")
    cid = data["conversationId"]
    msgs = (await api.get(f"/api/conversations/{cid}/messages", headers=auth)).json()
    roles = [m["role"] for m in msgs.get("messages", [])]
    assert roles == ["tool", "model"]


async def test_bad_input_names_the_field(api: httpx.AsyncClient, chat_core: Core) -> None:
    auth = await signed_in(chat_core)
    url = "/api/plugins/google/calculator/send"
    r = await api.post(url, json={"parameters": {"number1": 1}}, headers=auth)
    assert r.status_code == 400 and r.json()["field"] == "parameters.number2"
    r = await api.post(
        url, json={"parameters": {**CALC, "number2": 0, "operation": "divide"}}, headers=auth
    )
    assert r.status_code == 400 and r.json()["field"] == "number2"
    assert r.json()["toolMessageId"].startswith("msg_call_")
    r = await api.post("/api/plugins/google/abacus/send", json={}, headers=auth)
    assert r.status_code == 404 and "calculator, echo" in r.json()["details"]
    r = await api.post(url, json={"parameters": CALC, "runAsync": "yes"}, headers=auth)
    assert r.status_code == 400 and r.json()["field"] == "runAsync"


async def test_async_send_and_jobs(api: httpx.AsyncClient, chat_core: Core, worker) -> None:
    auth = await signed_in(chat_core)
    other = await signed_in(chat_core, "bob@example.com")
    body = {"parameters": CALC, "runAsync": True}
    headers = {**auth, "Idempotency-Key": "retry-1"}
    r = await api.post("/api/plugins/google/calculator/send", json=body, headers=headers)
    assert r.status_code == 202 and r.json()["status"] == "queued"
    job_id = r.json()["jobId"]
    again = await api.post("/api/plugins/google/calculator/send", json=body, headers=headers)
    assert again.json()["jobId"] == job_id
    job = await chat_core.jobs.wait(
        actor=await chat_core.auth.verify_token(auth["Authorization"][7:]), job_id=job_id
    )
    assert job["status"] == "succeeded"
    r = await api.get(f"/api/plugins/jobs/{job_id}", headers=auth)
    assert r.status_code == 200 and r.json()["job"]["result"]["result"] == 105
    assert (await api.get(f"/api/plugins/jobs/{job_id}", headers=other)).status_code == 404
    assert (await api.post(f"/api/plugins/jobs/{job_id}/cancel", headers=other)).status_code == 404
    r = await api.get("/api/plugins/jobs?status=succeeded", headers=auth)
    assert [j["jobId"] for j in r.json()["jobs"]] == [job_id]
    assert (await api.get("/api/plugins/jobs", headers=other)).json()["jobs"] == []
    r = await api.post(f"/api/plugins/jobs/{job_id}/cancel", headers=auth)
    assert r.status_code == 400 and "already finished" in r.json()["details"]


async def test_slow_sync_calls_do_not_block_other_requests(
    api: httpx.AsyncClient, chat_core: Core, acme
) -> None:
    auth = await signed_in(chat_core)
    slow = [
        asyncio.create_task(
            api.post(
                f"/api/plugins/acme/{name}/send",
                json={"parameters": {"seconds": 1.5}},
                headers=auth,
            )
        )
        for name in ("block", "sleep")  # a thread-bound plugin and an async one
    ]
    await asyncio.sleep(0.1)  # both calls are under way
    health = await api.get("/api/health")
    listed = await api.get("/api/plugins/list_plugins", headers=auth)
    assert health.status_code == 200 and listed.status_code == 200
    assert not any(t.done() for t in slow)  # answered while both slow calls still ran
    for task in slow:
        assert (await task).json()["result"] == {"slept": 1.5}


async def test_openapi_documents_the_plugin_routes(api: httpx.AsyncClient) -> None:
    paths = (await api.get("/api/openapi.json")).json()["paths"]
    for path, method in [
        ("/api/plugins/list_plugins", "get"),
        ("/api/plugins/{provider}", "get"),
        ("/api/plugins/{provider}/{plugin}/send", "post"),
        ("/api/plugins/jobs", "get"),
        ("/api/plugins/jobs/{job_id}", "get"),
        ("/api/plugins/jobs/{job_id}/cancel", "post"),
    ]:
        assert method in paths[path], path
    send = paths["/api/plugins/{provider}/{plugin}/send"]["post"]
    props = send["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert {"parameters", "sendToModel", "runAsync", "idempotencyKey"} <= set(props)
    assert {"200", "202", "400", "404"} <= set(send["responses"])


@pytest.mark.slow
async def test_apsara_serve_runs_jobs_in_process(mongo_uri: str, tmp_path) -> None:
    from tests.conftest import apsara_env
    from tests.http.served import serve

    env = apsara_env(mongo_uri, tmp_path, APSARA_JOB_POLL_S="0.2")
    with serve(env, tmp_path) as running:
        async with httpx.AsyncClient(base_url=running.url, timeout=10) as client:
            guest = await client.post("/api/users/guest-login", json={"clientKey": "plugins"})
            auth = {"Authorization": f"Bearer {guest.json()['token']}"}
            body = {"parameters": CALC, "runAsync": True}
            r = await client.post("/api/plugins/google/calculator/send", json=body, headers=auth)
            assert r.status_code == 202, r.text
            for _ in range(200):
                job = (
                    await client.get(f"/api/plugins/jobs/{r.json()['jobId']}", headers=auth)
                ).json()
                if job["job"]["status"] == "succeeded":
                    break
                await asyncio.sleep(0.05)
            assert job["job"]["result"]["result"] == 105, job
