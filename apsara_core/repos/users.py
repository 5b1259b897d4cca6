"""Queries on `users`. Ids are ObjectId hex strings stored as string `_id`."""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase


def new_id() -> str:
    """A fresh user id (24 hex characters)."""
    return str(ObjectId())


def normalize_email(email: str) -> str:
    """Emails are stored and looked up lowercased and trimmed."""
    return email.strip().lower()


async def find_by_id(db: AsyncDatabase, user_id: str) -> dict[str, Any] | None:
    """The user with this id, or None."""
    return await db.users.find_one({"_id": user_id})


async def find_by_email(db: AsyncDatabase, email: str) -> dict[str, Any] | None:
    """The user with this email (case-insensitive), or None."""
    return await db.users.find_one({"email": normalize_email(email)})


async def find_by_email_or_id(db: AsyncDatabase, key: str) -> dict[str, Any] | None:
    """Look a user up by email when `key` contains "@", else by id."""
    key = key.strip()
    if "@" in key:
        return await find_by_email(db, key)
    return await find_by_id(db, key)
