"""Fixtures for chat tests: one FakeGemini per session and a Core pointed at it.

`tests/conftest.py` loads this module as a pytest plugin, so every test can ask for them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from pydantic import SecretStr

from apsara_core.config import Settings
from apsara_core.core import Core
from tests.conftest import opened_core
from tests.fakes.gemini_server import FakeGemini
from tests.fakes.jwks import FakeGoogle

FAKE_KEY = "fake-gemini-key"


@pytest.fixture(scope="session")
def fake_gemini_server() -> Iterator[FakeGemini]:
    """The fake Gemini API, started once per test session."""
    with FakeGemini() as server:
        yield server


@pytest.fixture
def fake_gemini(fake_gemini_server: FakeGemini) -> Iterator[FakeGemini]:
    """The session's fake, with requests, scripted faults and headers cleared before and
    after this test."""
    fake_gemini_server.reset()
    yield fake_gemini_server
    fake_gemini_server.reset()


@pytest.fixture
def chat_settings(settings: Settings, fake_gemini: FakeGemini) -> Settings:
    """Test settings with an API key and the fake's base URL; short retry and idle timings."""
    return settings.model_copy(
        update={
            "google_ai_api_key": SecretStr(FAKE_KEY),
            "google_gemini_base_url": fake_gemini.base_url,
            "gemini_retry_base_s": 0.01,
            "gemini_idle_timeout_s": 1.0,
            "gemini_timeout_s": 10.0,
        }
    )


@pytest.fixture
async def chat_core(chat_settings: Settings) -> AsyncIterator[Core]:
    """An open Core on a fresh database whose AI calls reach the fake."""
    async with opened_core(chat_settings) as opened:
        yield opened


def gemini_env(fake: FakeGemini) -> dict[str, str]:
    """Environment for an `apsara` subprocess that talks to the fake."""
    return {
        "GOOGLE_AI_API_KEY": FAKE_KEY,
        "GOOGLE_GEMINI_BASE_URL": fake.base_url,
        "APSARA_GEMINI_RETRY_BASE_S": "0.01",
        "APSARA_GEMINI_IDLE_TIMEOUT_S": "2",
    }


@pytest.fixture
def google() -> Iterator[FakeGoogle]:
    """Google's JWKS endpoint and a token signer (tests/fakes/jwks.py)."""
    fake = FakeGoogle().start()
    yield fake
    fake.stop()


@pytest.fixture
async def google_core(settings: Settings, google: FakeGoogle) -> AsyncIterator[Core]:
    """An open Core whose Google sign-in trusts the fake's keys and client id."""
    async with opened_core(
        settings.model_copy(
            update={"google_client_id": google.client_id, "google_jwks_url": google.jwks_url}
        )
    ) as opened:
        yield opened
