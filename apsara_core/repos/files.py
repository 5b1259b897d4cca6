"""Queries on `files` (one record per stored file) and `file_usage` (per-user totals)."""

from __future__ import annotations

from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

Session = AsyncClientSession | None


async def insert(db: AsyncDatabase, doc: dict[str, Any], *, session: Session = None) -> None:
    """Store a new file record."""
    await db.files.insert_one(dict(doc), session=session)


async def find(db: AsyncDatabase, file_id: str) -> dict[str, Any] | None:
    """The record of `file_id`, or None."""
    return await db.files.find_one({"fileId": file_id}, {"_id": 0})


async def find_many(db: AsyncDatabase, file_ids: list[str]) -> list[dict[str, Any]]:
    """The records of these ids (any order; unknown ids are left out)."""
    return await db.files.find({"fileId": {"$in": file_ids}}, {"_id": 0}).to_list(None)


async def of_owner(db: AsyncDatabase, owner: str) -> list[dict[str, Any]]:
    """Every record of one user (for deleting their objects)."""
    return await db.files.find({"userId": owner}, {"_id": 0}).to_list(None)


async def page(
    db: AsyncDatabase, query: dict[str, Any], *, skip: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of records, newest first, and how many match."""
    total = await db.files.count_documents(query)
    cursor = db.files.find(query, {"_id": 0}).sort(
        [("createdAt", DESCENDING), ("fileId", DESCENDING)]
    )
    return await cursor.skip(skip).limit(limit).to_list(None), total


async def delete(db: AsyncDatabase, file_id: str, *, session: Session = None) -> bool:
    """Remove a record; whether it was there."""
    return (await db.files.delete_one({"fileId": file_id}, session=session)).deleted_count == 1


async def set_remote(
    db: AsyncDatabase, file_id: str, remote: dict[str, Any] | None, now: Any
) -> None:
    """Store (or clear) the record's File API copy."""
    await db.files.update_one(
        {"fileId": file_id}, {"$set": {"geminiFile": remote, "updatedAt": now}}
    )


async def usage(db: AsyncDatabase, owner: str) -> dict[str, int]:
    """{files, bytes} stored by `owner`."""
    doc = await db.file_usage.find_one({"_id": owner}) or {}
    return {"files": int(doc.get("files", 0)), "bytes": int(doc.get("bytes", 0))}


async def take(
    db: AsyncDatabase,
    owner: str,
    *,
    files: int,
    size: int,
    max_files: int,
    max_bytes: int,
    session: Session = None,
) -> bool:
    """Count `files` more files of `size` bytes in all if that stays within the limits.

    One conditional update (never read-then-write), so parallel uploads cannot pass a limit.
    """
    await db.file_usage.update_one(
        {"_id": owner}, {"$setOnInsert": {"files": 0, "bytes": 0}}, upsert=True, session=session
    )
    result = await db.file_usage.update_one(
        {"_id": owner, "files": {"$lte": max_files - files}, "bytes": {"$lte": max_bytes - size}},
        {"$inc": {"files": files, "bytes": size}},
        session=session,
    )
    return result.modified_count == 1


async def give_back(
    db: AsyncDatabase, owner: str, *, files: int, size: int, session: Session = None
) -> None:
    """Uncount deleted files."""
    await db.file_usage.update_one(
        {"_id": owner}, {"$inc": {"files": -files, "bytes": -size}}, session=session
    )
