"""Queries on `mail_outbox`: mails kept in the database when no SMTP server is set."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from apsara_core.repos.common import newest_first


async def add(db: AsyncDatabase, doc: dict[str, Any]) -> None:
    """Store one mail."""
    await db.mail_outbox.insert_one(doc)


async def latest(
    db: AsyncDatabase, *, to: str | None, limit: int, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The newest mails, optionally only those to one address (with `now`: read in createdAt
    windows through the createdAt or (to, createdAt) index, see `newest_first`)."""
    query = {"to": to} if to else {}
    if now is not None:
        return await newest_first(db.mail_outbox, query, "createdAt", now=now, skip=0, limit=limit)
    cursor = db.mail_outbox.find(query).sort([("createdAt", DESCENDING), ("_id", DESCENDING)])
    return await cursor.limit(limit).to_list()
