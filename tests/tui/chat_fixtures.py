"""Fixtures for the chat screens: FakeGemini (with default headers), a chat-ready Core, seeded data.

`tests/conftest.py` loads this module as a pytest plugin (the fixture `chat_app`); import the
helpers (`chat_user`, `seed_conversation`, `use_fake`) where they are used.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from pydantic import SecretStr

from apsara_core.core import Core
from apsara_tui.app import ApsaraApp
from tests.factories import create_user, principal_of
from tests.fakes.gemini_server import FakeGemini


def use_fake(core: Core, fake: FakeGemini | str) -> Core:
    """Point the core's Gemini settings at the fake (or the base URL of one in a process of its
    own), with fast retries."""
    core.settings.google_ai_api_key = SecretStr("test-key")
    core.settings.google_gemini_base_url = fake if isinstance(fake, str) else fake.base_url
    core.settings.gemini_retry_base_s = 0.01
    return core


@pytest.fixture
def chat_app(core: Core, fake_gemini: FakeGemini) -> ApsaraApp:
    """An ApsaraApp whose Core talks to the fake."""
    return ApsaraApp(core=use_fake(core, fake_gemini))


async def seed_conversation(
    core: Core, user: dict[str, Any], count: int, *, title: str = "Seeded"
) -> dict[str, Any]:
    """A conversation with `count` alternating user/model messages, stored as the chat stores them.

    Only for volume (long histories): real sends go through core.chat in the tests.
    """
    conv = await core.conversations.create(actor=principal_of(user), title=title)
    start = datetime.now(UTC) - timedelta(seconds=count)
    docs = [
        _message(conv["conversationId"], user["_id"], n, start + timedelta(seconds=n))
        for n in range(1, count + 1)
    ]
    for i in range(0, len(docs), 1000):
        await core.db.messages.insert_many(docs[i : i + 1000])
    await core.db.conversations.update_one(
        {"_id": conv["conversationId"]},
        {"$set": {"stats.messageSequence": count, "stats.totalMessages": count}},
    )
    return await core.conversations.get(
        actor=principal_of(user), conversation_id=conv["conversationId"]
    )


def _message(conversation_id: str, user_id: str, n: int, at: datetime) -> dict[str, Any]:
    role = "user" if n % 2 else "model"
    doc: dict[str, Any] = {
        "messageId": uuid4().hex,
        "conversationId": conversation_id,
        "userId": user_id,
        "messageSequence": n,
        "role": role,
        "content": {"text": f"message {n} from {role}"},
        "config": {"model": "gemini-2.5-flash"},
        "isEdited": False,
        "editHistory": [],
        "createdAt": at,
        "metadata": {"status": "complete"},
    }
    if role == "model":
        doc["metadata"].update(
            tokens={"prompt": 5, "output": 4, "thoughts": 0, "total": 9},
            timing={"requestAt": at, "firstChunkMs": 10, "totalMs": 20},
            provider={"name": "google", "model": "gemini-2.5-flash"},
        )
    return doc


async def chat_user(
    core: Core, email: str = "chat@example.com", plan: str = "premium"
) -> dict[str, Any]:
    """A user to chat as."""
    return await create_user(core, email, plan=plan)
