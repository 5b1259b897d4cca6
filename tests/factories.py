"""Test data: users stored the way the users service stores them."""

from __future__ import annotations

from typing import Any

from apsara_core.core import Core
from apsara_core.models import Principal, User
from apsara_core.repos.users import new_id, normalize_email


async def create_user(core: Core, email: str = "user@example.com", *, role: str = "user",
                      plan: str = "free", full_name: str = "Test User", verified: bool = True,
                      **extra: Any) -> dict[str, Any]:
    """Insert a user document directly (no password unless given as a bcrypt hash)."""
    doc = User(_id=new_id(), fullName=full_name, email=normalize_email(email), role=role,
               subscriptionPlan=plan, isEmailVerified=verified,
               isGuest=role == "guest", authProvider="guest" if role == "guest" else "local",
               **extra).to_mongo()
    await core.db.users.insert_one(doc)
    return doc


def principal_of(user: dict[str, Any]) -> Principal:
    """The Principal a verified token of this user would give."""
    return Principal(user_id=user["_id"], role=user["role"], plan=user["subscriptionPlan"],
                     email=user.get("email"))
