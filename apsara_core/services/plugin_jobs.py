"""JobQueue: the small interface of durable plugin jobs (enqueue, get, list, cancel, wait).

Jobs live in MongoDB (repos/jobs.py) and are run by `plugin_worker.Worker`; a broker could
dispatch later behind this same interface. States: queued, running, succeeded, failed,
cancelled. An idempotency key (unique per user, a partial unique index) makes a retried
request return the job it made the first time.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from apsara_core.clock import Clock
from apsara_core.errors import NotFoundError, ValidationError
from apsara_core.models import Principal
from apsara_core.repos import jobs as job_repo

JOB_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
MAX_ATTEMPTS = 3
MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class JobSpec:
    """What a job runs."""

    provider: str
    plugin: str
    parameters: dict[str, Any]
    conversation_id: str
    send_to_model: bool
    model: str
    idempotency_key: Any = None


def check_status(status: Any) -> str | None:
    """A job status filter (None: any)."""
    if status is None or status in JOB_STATUSES:
        return status
    raise ValidationError(f"status must be one of {', '.join(JOB_STATUSES)}", field="status")


def _key(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_KEY_LENGTH:
        raise ValidationError(
            f"idempotencyKey must be a non-empty string of at most {MAX_KEY_LENGTH} characters",
            field="idempotencyKey",
        )
    return value


def view(doc: dict[str, Any]) -> dict[str, Any]:
    """The public form of a job (parameters and result decoded)."""
    out = {k: v for k, v in doc.items() if k not in ("_id", "parametersJson", "resultJson")}
    out["parameters"] = json.loads(doc["parametersJson"])
    out["result"] = json.loads(doc["resultJson"]) if doc.get("resultJson") is not None else None
    return out


class JobQueue:
    """Durable plugin jobs in the `jobs` collection."""

    def __init__(self, *, db: AsyncDatabase, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def enqueue(self, *, actor: Principal, spec: JobSpec) -> dict[str, Any]:
        """Queue a job; with an idempotency key already used by this user, that job."""
        key = _key(spec.idempotency_key)
        now = self._clock.now()
        job_id = "job_" + secrets.token_hex(12)
        doc: dict[str, Any] = {
            "_id": job_id,
            "jobId": job_id,
            "userId": actor.user_id,
            "provider": spec.provider,
            "plugin": spec.plugin,
            "parametersJson": json.dumps(spec.parameters, ensure_ascii=False),
            "conversationId": spec.conversation_id,
            "sendToModel": spec.send_to_model,
            "model": spec.model,
            "status": "queued",
            "attempt": 0,
            "maxAttempts": MAX_ATTEMPTS,
            "createdAt": now,
            "resultJson": None,
            "error": None,
            "toolMessageId": None,
            "modelMessageId": None,
        }
        if key is not None:
            doc["idempotencyKey"] = key
        try:
            await job_repo.insert(self._db, doc)
        except DuplicateKeyError:
            if key is None:
                raise
            existing = await job_repo.by_key(self._db, actor.user_id, key)
            if existing is None:
                raise
            return view(existing)
        return view(doc)

    async def _doc(self, actor: Principal, job_id: Any) -> dict[str, Any]:
        if not isinstance(job_id, str) or not job_id:
            raise ValidationError("jobId must be a string", field="jobId")
        doc = await job_repo.get(self._db, job_id)
        if doc is None or (doc["userId"] != actor.user_id and not actor.is_admin):
            raise NotFoundError(f"No job {job_id!r}", field="jobId")
        return doc

    async def get(self, *, actor: Principal, job_id: Any) -> dict[str, Any]:
        """One job of the actor's (admins: anyone's).

        Raises:
            NotFoundError: unknown, or another user's.
        """
        return view(await self._doc(actor, job_id))

    async def list(
        self, *, actor: Principal, status: Any = None, limit: Any = 50, everyone: bool = False
    ) -> list[dict[str, Any]]:
        """The actor's jobs newest first (admins with everyone=True: all jobs)."""
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 500:
            raise ValidationError("limit must be an integer from 1 to 500", field="limit")
        owner = None if everyone and actor.is_admin else actor.user_id
        docs = await job_repo.list_for(self._db, owner, check_status(status), limit)
        return [view(d) for d in docs]

    async def cancel(self, *, actor: Principal, job_id: Any) -> dict[str, Any]:
        """Cancel a queued job at once, or ask the worker running it to stop.

        Raises:
            NotFoundError: unknown, or another user's.
            ValidationError: the job has already finished.
        """
        doc = await self._doc(actor, job_id)
        now = self._clock.now()
        if await job_repo.cancel_queued(self._db, doc["_id"], now):
            return await self.get(actor=actor, job_id=doc["_id"])
        if await job_repo.request_cancel(self._db, doc["_id"], now):
            return await self.get(actor=actor, job_id=doc["_id"])
        current = await self.get(actor=actor, job_id=doc["_id"])
        raise ValidationError(
            f"Job {doc['_id']} has already finished ({current['status']})", field="jobId"
        )

    async def wait(
        self, *, actor: Principal, job_id: Any, timeout: float = 60.0, poll: float = 0.05
    ) -> dict[str, Any]:
        """The job once it has finished (or as it is when `timeout` seconds have passed)."""
        job = await self.get(actor=actor, job_id=job_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while job["status"] not in job_repo.TERMINAL and loop.time() < deadline:
            await asyncio.sleep(min(poll, max(deadline - loop.time(), 0)))
            poll = min(poll * 1.5, 0.5)
            job = await self.get(actor=actor, job_id=job_id)
        return job

    @staticmethod
    def final_fields(done: dict[str, Any]) -> dict[str, Any]:
        """A run's outcome as the job's fields."""
        error = done.get("error") or done.get("modelError")
        fields: dict[str, Any] = {
            "status": "failed" if error else "succeeded",
            "resultJson": None if done.get("result") is None else json.dumps(done["result"]),
            "error": error,
            "toolMessageId": done.get("toolMessageId"),
            "durationMs": done.get("durationMs"),
        }
        if (reply := done.get("modelResponse")) is not None:
            fields["modelMessageId"] = reply.get("modelMessageId")
            fields["modelResponse"] = {
                "text": reply.get("text"),
                "modelMessageId": reply.get("modelMessageId"),
            }
        return fields
