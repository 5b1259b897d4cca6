"""Test data: users stored the way the users service stores them."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from apsara_core.core import Core
from apsara_core.models import Principal, User
from apsara_core.repos import users as users_repo
from apsara_core.repos.users import new_id, normalize_email
from apsara_core.services.sessions import OPERATOR


async def create_user(
    core: Core,
    email: str = "user@example.com",
    *,
    role: str = "user",
    plan: str = "free",
    full_name: str = "Test User",
    verified: bool = True,
    **extra: Any,
) -> dict[str, Any]:
    """Insert a user document directly (no password unless given as a bcrypt hash)."""
    stamps = {"createdAt": core.clock.now(), "updatedAt": core.clock.now(), **extra}
    doc = User(
        _id=new_id(),
        fullName=full_name,
        email=normalize_email(email),
        role=role,
        subscriptionPlan=plan,
        isEmailVerified=verified,
        isGuest=role == "guest",
        authProvider="guest" if role == "guest" else "local",
        **stamps,
    ).to_mongo()
    await users_repo.insert(core.db, doc)  # counted in `tallies`, as the services do
    return doc


def principal_of(user: dict[str, Any]) -> Principal:
    """The Principal a verified token of this user would give."""
    return Principal(
        user_id=user["_id"],
        role=user["role"],
        plan=user["subscriptionPlan"],
        email=user.get("email"),
    )


# --- accounts ------------------------------------------------------------------------

STRONG_PASSWORD = "correct horse battery staple"


async def latest_code(core: Core, email: str) -> str:
    """The 6-digit code in the newest outbox mail to `email`."""
    import re

    mails = await core.mail.outbox(actor=OPERATOR, to=email, limit=1)
    assert mails, f"no mail to {email}"
    match = re.search(r"\b(\d{6})\b", mails[0]["body"])
    assert match, mails[0]["body"]
    return match.group(1)


async def let_codes_be_resent(core: Core) -> None:
    """Move every code-send counter back past its 60 s gap (as if a minute went by)."""
    from datetime import timedelta

    async for doc in core.db.otps.find({"_id": {"$regex": "^sends:"}}):
        await core.db.otps.update_one(
            {"_id": doc["_id"]}, {"$set": {"lastSentAt": doc["lastSentAt"] - timedelta(seconds=61)}}
        )


async def registered_user(
    core: Core,
    email: str = "reg@example.com",
    password: str = STRONG_PASSWORD,
    name: str = "Reg User",
) -> dict[str, Any]:
    """Register and verify through the auth service; returns the stored user."""
    await core.auth.register(full_name=name, email=email, password=password, accept_terms=True)
    await core.auth.verify_email(email=email, otp=await latest_code(core, email))
    doc = await core.db.users.find_one({"email": normalize_email(email)})
    assert doc is not None
    return doc


# --- conversations in bulk ---------------------------------------------------------------


async def insert_conversations(
    core: Core, owner_ids: list[str], count: int, *, title: str = "Topic {n}", messages: int = 0
) -> list[str]:
    """Store `count` conversations shaped as the service stores them, round-robin over
    `owner_ids`, with insert_many (volume only: `core.conversations.create` for real ones).

    Conversation n has title `title.format(n=n)` and was updated n seconds ago, so n = 0 is
    the newest. Returns their ids, newest first.
    """
    from datetime import datetime, timedelta

    from apsara_core.models.documents import Conversation
    from apsara_core.repos.search_words import words

    now = datetime.now(UTC)
    docs = []
    for n in range(count):
        cid = f"conv_bulk{n:08d}"
        doc = Conversation(
            conversationId=cid,
            userId=owner_ids[n % len(owner_ids)],
            title=title.format(n=n),
            createdAt=now - timedelta(seconds=n),
            updatedAt=now - timedelta(seconds=n),
        ).to_mongo()
        doc["stats"].update(
            totalMessages=messages, messageSequence=messages, lastActivity=doc["updatedAt"]
        )
        docs.append({**doc, "_id": cid, "searchWords": words(doc["title"])})
    for i in range(0, count, 2000):
        await core.db.conversations.insert_many(docs[i : i + 2000])
    return [d["_id"] for d in docs]
