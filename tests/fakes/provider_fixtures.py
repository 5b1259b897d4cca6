"""Fixtures for the OpenAI-compatible and Anthropic providers: one fake of each per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.openai_server import FakeOpenAI

OPENAI_KEY_ENV = "APSARA_TEST_OPENAI_KEY"
ANTHROPIC_KEY_ENV = "APSARA_TEST_ANTHROPIC_KEY"


@pytest.fixture(scope="session")
def fake_openai_server() -> Iterator[FakeOpenAI]:
    """The fake OpenAI-compatible server, started once per session."""
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def fake_openai(
    fake_openai_server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeOpenAI]:
    """The session's fake, cleared before and after the test; its key is in OPENAI_KEY_ENV."""
    monkeypatch.setenv(OPENAI_KEY_ENV, "sk-fake")
    fake_openai_server.reset()
    yield fake_openai_server
    fake_openai_server.reset()


@pytest.fixture(scope="session")
def fake_anthropic_server() -> Iterator[FakeAnthropic]:
    """The fake Anthropic Messages API, started once per session."""
    with FakeAnthropic() as server:
        yield server


@pytest.fixture
def fake_anthropic(
    fake_anthropic_server: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeAnthropic]:
    """The session's fake, cleared before and after the test; its key is in ANTHROPIC_KEY_ENV."""
    monkeypatch.setenv(ANTHROPIC_KEY_ENV, "sk-ant-fake")
    fake_anthropic_server.reset()
    yield fake_anthropic_server
    fake_anthropic_server.reset()
