"""Fixtures of the core tests: the fake Gemini server and a Core pointed at it."""

from tests.fakes.fixtures import chat_core, chat_settings, fake_gemini, fake_gemini_server  # noqa: F401
