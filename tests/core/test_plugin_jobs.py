"""Durable plugin jobs with an in-process Worker: async calls with and without the model,
cancel (queued and running), timeout, idempotency, ownership, and the lease rules."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from apsara_core.errors import NotFoundError, ValidationError
from apsara_core.repos import jobs as job_repo
from tests.core.chat_helpers import premium, stored, used
from tests.factories import create_user, principal_of

CALC = {"number1": 100, "number2": 25, "operation": "divide"}


@pytest.fixture
async def worker(chat_core) -> AsyncIterator[object]:
    w = chat_core.worker(concurrency=2, lease_s=3.0, poll_s=0.2)
    w.start()
    yield w
    await w.stop()


async def queue(core, actor, plugin="calculator", provider="google", params=CALC, **kw):
    return await core.plugins.call(
        actor=actor, provider=provider, plugin=plugin, parameters=params, run_async=True, **kw
    )


async def until(core, actor, job_id, status):
    for _ in range(400):
        job = await core.jobs.get(actor=actor, job_id=job_id)
        if job["status"] == status:
            return job
        await asyncio.sleep(0.025)
    raise AssertionError(f"{job_id} never became {status}: {job}")


async def test_async_call_answers_a_job_then_the_worker_runs_it(chat_core, worker):
    actor = await premium(chat_core)
    r = await queue(chat_core, actor)
    assert r["success"] and r["status"] == "queued" and r["jobId"].startswith("job_")
    job = await chat_core.jobs.wait(actor=actor, job_id=r["jobId"], timeout=20)
    assert job["status"] == "succeeded" and job["result"]["result"] == 4 and job["attempt"] == 1
    assert job["error"] is None and job["finishedAt"] >= job["startedAt"] >= job["createdAt"]
    (tool,) = await stored(chat_core, r["conversationId"])
    assert tool["messageId"] == job["toolMessageId"] == f"msg_{r['jobId']}"
    assert tool["metadata"]["plugin"]["jobId"] == r["jobId"]


async def test_async_call_with_send_to_model(chat_core, fake_gemini, worker):
    actor = await premium(chat_core)
    r = await queue(chat_core, actor, send_to_model=True)
    job = await chat_core.jobs.wait(actor=actor, job_id=r["jobId"], timeout=20)
    assert job["status"] == "succeeded" and job["modelResponse"]["text"].startswith("Echo:")
    msgs = await stored(chat_core, r["conversationId"])
    assert [m["messageId"] for m in msgs] == [job["toolMessageId"], job["modelMessageId"]]
    assert await used(chat_core, actor) == 1


async def test_idempotency_key_returns_the_same_job(chat_core):
    actor = await premium(chat_core)
    a = await queue(chat_core, actor, idempotency_key="k-1")
    b = await queue(chat_core, actor, idempotency_key="k-1", conversation_id=a["conversationId"])
    assert a["jobId"] == b["jobId"]
    assert await chat_core.db.jobs.count_documents({}) == 1
    other = principal_of(await create_user(chat_core, "other@example.com"))
    c = await queue(chat_core, other, idempotency_key="k-1")  # keys are per user
    assert c["jobId"] != a["jobId"]


async def test_cancel_a_queued_job_and_it_never_runs(chat_core):
    actor = await premium(chat_core)
    r = await queue(chat_core, actor)
    job = await chat_core.jobs.cancel(actor=actor, job_id=r["jobId"])
    assert job["status"] == "cancelled"
    w = chat_core.worker(lease_s=3.0, poll_s=0.1)
    w.start()
    await asyncio.sleep(0.5)
    await w.stop()
    assert (await chat_core.jobs.get(actor=actor, job_id=r["jobId"]))["status"] == "cancelled"
    assert await stored(chat_core, r["conversationId"]) == []
    with pytest.raises(ValidationError, match="already finished"):
        await chat_core.jobs.cancel(actor=actor, job_id=r["jobId"])


async def test_cancel_a_running_job(chat_core, acme, worker):
    actor = await premium(chat_core)
    r = await queue(chat_core, actor, "sleep", "acme", {"seconds": 60})
    await until(chat_core, actor, r["jobId"], "running")
    await chat_core.jobs.cancel(actor=actor, job_id=r["jobId"])
    job = await until(chat_core, actor, r["jobId"], "cancelled")
    assert job["error"]["code"] == "CANCELLED"


async def test_timeout_and_raising_plugins_fail_the_job_clearly(chat_core, acme, worker):
    actor = await premium(chat_core)
    hang = await queue(chat_core, actor, "hang", "acme", {"seconds": 30})
    boom = await queue(chat_core, actor, "boom", "acme", {})
    job = await chat_core.jobs.wait(actor=actor, job_id=hang["jobId"], timeout=20)
    assert job["status"] == "failed" and job["error"]["code"] == "PLUGIN_TIMEOUT"
    job = await chat_core.jobs.wait(actor=actor, job_id=boom["jobId"], timeout=20)
    assert job["error"]["message"] == "acme/boom raised RuntimeError: kaboom"
    (tool,) = await stored(chat_core, boom["conversationId"])
    assert tool["metadata"]["plugin"]["status"] == "failed"


async def test_a_sync_only_plugin_refuses_async(chat_core, acme):
    actor = await premium(chat_core)
    with pytest.raises(ValidationError) as info:
        await queue(chat_core, actor, "synconly", "acme", {})
    assert info.value.field == "runAsync"


async def test_another_users_job_is_not_found(chat_core):
    actor = await premium(chat_core)
    r = await queue(chat_core, actor)
    other = principal_of(await create_user(chat_core, "other@example.com"))
    with pytest.raises(NotFoundError):
        await chat_core.jobs.get(actor=other, job_id=r["jobId"])
    with pytest.raises(NotFoundError):
        await chat_core.jobs.cancel(actor=other, job_id=r["jobId"])
    assert await chat_core.jobs.list(actor=other) == []
    assert [j["jobId"] for j in await chat_core.jobs.list(actor=actor, status="queued")] == [
        r["jobId"]
    ]


async def test_only_the_current_owner_and_attempt_can_finish(chat_core):
    actor = await premium(chat_core)
    r = await queue(chat_core, actor)
    db, now = chat_core.db, chat_core.clock.now()
    (seen,) = await job_repo.queued(db, 5)
    assert await job_repo.claim(
        db, seen, owner="a", lease_until=now - timedelta(seconds=1), now=now
    )
    assert not await job_repo.claim(db, seen, owner="b", lease_until=now, now=now)  # taken
    (expired,) = await job_repo.expired(db, now, 5)
    later = now + timedelta(seconds=30)
    assert await job_repo.claim(db, expired, owner="b", lease_until=later, now=now)
    assert not await job_repo.finish(db, r["jobId"], "a", 1, {"status": "succeeded"})
    assert not await job_repo.renew(db, r["jobId"], "a", 1, later)
    assert await job_repo.finish(db, r["jobId"], "b", 2, {"status": "failed"})
    assert (await chat_core.jobs.get(actor=actor, job_id=r["jobId"]))["status"] == "failed"


async def test_a_rerun_reuses_the_messages_already_written(chat_core, fake_gemini, worker):
    """A job run again (its worker died after writing) writes no second tool or model message."""
    actor = await premium(chat_core)
    r = await queue(chat_core, actor, send_to_model=True)
    first = await chat_core.jobs.wait(actor=actor, job_id=r["jobId"], timeout=20)
    # put it back as if the worker had died before recording the outcome
    await chat_core.db.jobs.update_one(
        {"_id": r["jobId"]},
        {"$set": {"status": "running", "owner": "dead", "leaseUntil": chat_core.clock.now()}},
    )
    again = await until(chat_core, actor, r["jobId"], "succeeded")
    assert again["attempt"] == 2
    assert again["toolMessageId"] == first["toolMessageId"]
    assert again["modelMessageId"] == first["modelMessageId"]
    assert len(await stored(chat_core, r["conversationId"])) == 2
    assert await used(chat_core, actor) == 1
