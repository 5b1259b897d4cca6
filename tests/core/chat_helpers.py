"""Helpers shared by the chat tests: users, conversations, stored state and quota."""

from __future__ import annotations

from typing import Any

from apsara_core.core import Core
from apsara_core.models import Principal
from tests.factories import create_user, principal_of

MODEL = "gemini-2.5-flash"


async def premium(core: Core, email: str = "chat@example.com", **kw: Any) -> Principal:
    """A premium user (100 flash messages a day) as a principal."""
    return principal_of(await create_user(core, email, plan="premium", **kw))


async def new_conv(core: Core, actor: Principal, system: str | None = None) -> str:
    """A fresh conversation id."""
    conv = await core.conversations.create(actor=actor, title="Test", system_instruction=system)
    return conv["conversationId"]


async def stored(core: Core, cid: str) -> list[dict[str, Any]]:
    """Every live message of a conversation, ascending."""
    docs = await core.db.messages.find({"conversationId": cid}, {"_id": 0}).to_list()
    return sorted(docs, key=lambda m: m["messageSequence"])


async def used(core: Core, actor: Principal, model: str = MODEL) -> int:
    """Units of `model` counted for the actor today."""
    info = await core.limits.quota(actor=actor, model=model)
    return info["dailyUsage"].get(model, {}).get("count", 0)
