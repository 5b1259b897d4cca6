"""Queries on `mail_outbox`: mails kept in the database when no SMTP server is set."""

from __future__ import annotations

from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase


async def add(db: AsyncDatabase, doc: dict[str, Any]) -> None:
    """Store one mail."""
    await db.mail_outbox.insert_one(doc)


async def latest(db: AsyncDatabase, *, to: str | None, limit: int) -> list[dict[str, Any]]:
    """The newest mails, optionally only those to one address."""
    query = {"to": to} if to else {}
    cursor = db.mail_outbox.find(query).sort([("createdAt", DESCENDING), ("_id", DESCENDING)])
    return await cursor.limit(limit).to_list()
