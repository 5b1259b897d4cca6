"""Queries on `provider_instances`: one document per declared provider instance (`_id` = name)."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase


async def all_instances(db: AsyncDatabase) -> list[dict[str, Any]]:
    """Every declared instance, by name, without `_id`."""
    docs = await db.provider_instances.find({}, {"_id": 0}).to_list(None)
    return sorted(docs, key=lambda d: d["name"])


async def insert(
    db: AsyncDatabase, doc: dict[str, Any], *, session: AsyncClientSession | None = None
) -> None:
    """Store a new instance (DuplicateKeyError when the name is taken)."""
    await db.provider_instances.insert_one({"_id": doc["name"], **doc}, session=session)


async def delete(
    db: AsyncDatabase, name: str, *, session: AsyncClientSession | None = None
) -> dict[str, Any] | None:
    """Remove an instance; the removed document, or None when there was none."""
    return await db.provider_instances.find_one_and_delete(
        {"_id": name}, projection={"_id": 0}, session=session
    )
