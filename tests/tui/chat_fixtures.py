"""Fixtures for the chat screens: FakeGemini (with default headers), a chat-ready Core, seeded data.

Import the fixtures into a test module: `from tests.tui.chat_fixtures import fake, chat_app, ...`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

import pytest
from pydantic import SecretStr

from apsara_core.core import Core
from apsara_tui.app import ApsaraApp
from tests.factories import create_user, principal_of
from tests.fakes.gemini_server import FakeGemini


class HeaderInjector:
    """ASGI middleware: adds `headers` (e.g. x-fake-chunks) to every request the fake gets.

    The SDK client built by the provider sends no test headers, so a test that wants a
    1,000-chunk reply or a fault on every call sets them here instead.
    """

    def __init__(self, app: Any, headers: dict[str, str]) -> None:
        self.app, self.headers = app, headers

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and self.headers:
            extra = [(k.lower().encode(), v.encode()) for k, v in self.headers.items()]
            scope = {**scope, "headers": [*scope["headers"], *extra]}
        await self.app(scope, receive, send)


class HeaderedFake(FakeGemini):
    """FakeGemini whose `headers` dict is added to every request."""

    def __init__(self) -> None:
        super().__init__()
        self.headers: dict[str, str] = {}
        self.app = HeaderInjector(self.app, self.headers)  # type: ignore[assignment]


def use_fake(core: Core, fake: FakeGemini) -> Core:
    """Point the core's Gemini settings at the fake, with fast retries."""
    core.settings.google_ai_api_key = SecretStr("test-key")
    core.settings.google_gemini_base_url = fake.base_url
    core.settings.gemini_retry_base_s = 0.01
    return core


@pytest.fixture(scope="session")
def fake_server() -> Iterator[HeaderedFake]:
    """One fake Gemini server for the run."""
    with HeaderedFake() as server:
        yield server


@pytest.fixture
def fake(fake_server: HeaderedFake) -> Iterator[HeaderedFake]:
    """The fake, reset before and after the test (requests, scripted faults, headers)."""
    fake_server.reset()
    fake_server.headers.clear()
    yield fake_server
    fake_server.reset()
    fake_server.headers.clear()


@pytest.fixture
def chat_app(core: Core, fake: HeaderedFake) -> ApsaraApp:
    """An ApsaraApp whose Core talks to the fake."""
    return ApsaraApp(core=use_fake(core, fake))


async def seed_conversation(core: Core, user: dict[str, Any], count: int, *,
                            title: str = "Seeded") -> dict[str, Any]:
    """A conversation with `count` alternating user/model messages, stored as the chat stores them.

    Only for volume (long histories): real sends go through core.chat in the tests.
    """
    conv = await core.conversations.create(actor=principal_of(user), title=title)
    start = datetime.now(timezone.utc) - timedelta(seconds=count)
    docs = [_message(conv["conversationId"], user["_id"], n, start + timedelta(seconds=n))
            for n in range(1, count + 1)]
    for i in range(0, len(docs), 1000):
        await core.db.messages.insert_many(docs[i:i + 1000])
    await core.db.conversations.update_one(
        {"conversationId": conv["conversationId"]},
        {"$set": {"stats.messageSequence": count, "stats.totalMessages": count}})
    return await core.conversations.get(actor=principal_of(user), conversation_id=conv["conversationId"])


def _message(conversation_id: str, user_id: str, n: int, at: datetime) -> dict[str, Any]:
    role = "user" if n % 2 else "model"
    doc: dict[str, Any] = {
        "messageId": uuid4().hex, "conversationId": conversation_id, "userId": user_id,
        "messageSequence": n, "role": role, "content": {"text": f"message {n} from {role}"},
        "config": {"model": "gemini-2.5-flash"}, "isEdited": False, "editHistory": [], "createdAt": at,
        "metadata": {"status": "complete"},
    }
    if role == "model":
        doc["metadata"].update(tokens={"prompt": 5, "output": 4, "thoughts": 0, "total": 9},
                               timing={"requestAt": at, "firstChunkMs": 10, "totalMs": 20},
                               provider={"name": "google", "model": "gemini-2.5-flash"})
    return doc


async def chat_user(core: Core, email: str = "chat@example.com", plan: str = "premium") -> dict[str, Any]:
    """A user to chat as."""
    return await create_user(core, email, plan=plan)
