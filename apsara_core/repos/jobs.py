"""The `jobs` collection: durable plugin jobs with leases.

Claiming is a `find` on an indexed filter, then a conditional `update_one` on _id, status and
attempt (never find_one_and_update, which scans on the embedded server). Every later write of
a running job is conditional on its owner and attempt, so a worker that lost its lease cannot
change the outcome.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

TERMINAL = ("succeeded", "failed", "cancelled")


async def insert(db: AsyncDatabase, doc: dict[str, Any]) -> None:
    """Store a new job (DuplicateKeyError on a reused idempotency key)."""
    await db.jobs.insert_one(dict(doc))


async def get(db: AsyncDatabase, job_id: str) -> dict[str, Any] | None:
    """One job by id."""
    return await db.jobs.find_one({"_id": job_id})


async def by_key(db: AsyncDatabase, user_id: str, key: str) -> dict[str, Any] | None:
    """A user's job with this idempotency key."""
    return await db.jobs.find_one({"userId": user_id, "idempotencyKey": key})


async def list_for(
    db: AsyncDatabase, user_id: str | None, status: str | None, limit: int
) -> list[dict[str, Any]]:
    """Jobs newest first (of one user, with one status)."""
    query: dict[str, Any] = {}
    if user_id is not None:
        query["userId"] = user_id
    if status is not None:
        query["status"] = status
    return await db.jobs.find(query).sort("createdAt", DESCENDING).limit(limit).to_list()


async def queued(db: AsyncDatabase, limit: int) -> list[dict[str, Any]]:
    """The oldest queued jobs (index status_1_createdAt_1)."""
    cursor = db.jobs.find({"status": "queued"}, {"attempt": 1, "status": 1})
    return await cursor.sort("createdAt", ASCENDING).limit(limit).to_list()


async def expired(db: AsyncDatabase, now: datetime, limit: int) -> list[dict[str, Any]]:
    """Running jobs whose lease ran out (index status_1_leaseUntil_1): a worker died."""
    query = {"status": "running", "leaseUntil": {"$lt": now}}
    return await db.jobs.find(query, {"attempt": 1, "status": 1}).limit(limit).to_list()


async def claim(
    db: AsyncDatabase, seen: dict[str, Any], *, owner: str, lease_until: datetime, now: datetime
) -> bool:
    """Take a job seen queued (or running with an expired lease) if it is still so."""
    query: dict[str, Any] = {
        "_id": seen["_id"],
        "status": seen["status"],
        "attempt": seen["attempt"],
    }
    if seen["status"] == "running":
        query["leaseUntil"] = {"$lt": now}
    update = {
        "$set": {"status": "running", "owner": owner, "leaseUntil": lease_until, "startedAt": now},
        "$inc": {"attempt": 1},
    }
    return (await db.jobs.update_one(query, update)).modified_count == 1


def _mine(job_id: str, owner: str, attempt: int) -> dict[str, Any]:
    return {"_id": job_id, "status": "running", "owner": owner, "attempt": attempt}


async def renew(
    db: AsyncDatabase, job_id: str, owner: str, attempt: int, lease_until: datetime
) -> bool:
    """Extend the lease while the job is ours and no cancel was asked for."""
    query = {**_mine(job_id, owner, attempt), "cancelRequested": {"$ne": True}}
    return (
        await db.jobs.update_one(query, {"$set": {"leaseUntil": lease_until}})
    ).matched_count == 1


async def finish(
    db: AsyncDatabase, job_id: str, owner: str, attempt: int, fields: dict[str, Any]
) -> bool:
    """Record the outcome, only for the current owner and attempt."""
    update = {"$set": fields, "$unset": {"leaseUntil": ""}}
    return (await db.jobs.update_one(_mine(job_id, owner, attempt), update)).modified_count == 1


async def give_up(
    db: AsyncDatabase, seen: dict[str, Any], now: datetime, error: dict[str, Any]
) -> bool:
    """Fail an expired job that has used its attempts."""
    query = {
        "_id": seen["_id"],
        "status": "running",
        "attempt": seen["attempt"],
        "leaseUntil": {"$lt": now},
    }
    update = {
        "$set": {"status": "failed", "error": error, "finishedAt": now},
        "$unset": {"leaseUntil": ""},
    }
    return (await db.jobs.update_one(query, update)).modified_count == 1


async def cancel_queued(db: AsyncDatabase, job_id: str, now: datetime) -> bool:
    """Cancel a job nobody has claimed yet."""
    update = {
        "$set": {
            "status": "cancelled",
            "finishedAt": now,
            "error": {"code": "CANCELLED", "message": "Cancelled before it ran"},
        }
    }
    return (
        await db.jobs.update_one({"_id": job_id, "status": "queued"}, update)
    ).modified_count == 1


async def request_cancel(db: AsyncDatabase, job_id: str, now: datetime) -> bool:
    """Ask the worker running the job to stop it (it watches for this)."""
    update = {"$set": {"cancelRequested": True, "cancelRequestedAt": now}}
    return (
        await db.jobs.update_one({"_id": job_id, "status": "running"}, update)
    ).matched_count == 1
