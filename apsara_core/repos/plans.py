"""Queries on `plans`: one document per plan."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError


async def all_plans(db: AsyncDatabase) -> list[dict[str, Any]]:
    """Every stored plan (a handful of documents), without `_id`."""
    return await db.plans.find({}, {"_id": 0}).to_list(None)


async def find_plan(db: AsyncDatabase, name: str) -> dict[str, Any] | None:
    """The plan called `name`, or None."""
    return await db.plans.find_one({"name": name}, {"_id": 0})


async def insert_missing(db: AsyncDatabase, docs: list[dict[str, Any]]) -> int:
    """Insert the plans whose name is not stored yet; never overwrite one.

    Safe when several processes seed at once (the unique name index decides).

    Returns:
        How many plans were inserted.
    """
    inserted = 0
    for doc in docs:
        try:
            result = await db.plans.update_one(
                {"name": doc["name"]}, {"$setOnInsert": doc}, upsert=True
            )
        except DuplicateKeyError:
            continue
        inserted += result.upserted_id is not None
    return inserted


async def replace_models(
    db: AsyncDatabase,
    *,
    name: str,
    expected: datetime,
    models: dict[str, Any],
    now: datetime,
    session: AsyncClientSession | None = None,
    groups: dict[str, Any] | None = None,
) -> bool:
    """Store a plan's new model table (and its groups, when given) if nobody changed the plan
    since `expected`.

    The whole document is replaced because model names contain dots, which update
    operators would read as paths.

    Returns:
        True when stored; False when the plan changed meanwhile (the caller retries).
    """
    current = await db.plans.find_one({"name": name, "updatedAt": expected}, session=session)
    if current is None:
        return False
    current.update(models=models, updatedAt=now)
    if groups is not None:
        current["groups"] = groups
    result = await db.plans.replace_one(
        {"_id": current["_id"], "updatedAt": expected}, current, session=session
    )
    return result.modified_count == 1


async def set_files(
    db: AsyncDatabase,
    *,
    name: str,
    files: dict[str, int],
    now: datetime,
    session: AsyncClientSession | None = None,
) -> None:
    """Store a plan's file limits."""
    await db.plans.update_one(
        {"name": name}, {"$set": {"files": files, "updatedAt": now}}, session=session
    )
