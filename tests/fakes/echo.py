"""The deterministic answers of the OpenAI and Anthropic fakes (like gemini_payloads').

The reply is ``[sys:<first 40 chars>] Echo: <last user text> (turns=N)`` (the sys part only with
a system prompt); thoughts are ``Thinking about: <last user text>``; ``CALL:name({json})`` in the
last user text asks for a tool call instead. Tokens are words.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

_CALL = re.compile(r"CALL:(\w+)\((\{.*\})\)", re.DOTALL)


@dataclass
class Echo:
    """What a fake answers to one request."""

    text: str
    thoughts: str
    prompt_tokens: int
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def pieces(self, n: int | None = None) -> list[str]:
        """The reply split into `n` (default: one per word) deltas that join back to it."""
        words = re.findall(r"\S+\s*", self.text) or [self.text]
        if n is None or n <= 0:
            return words
        size = math.ceil(len(self.text) / n)
        return [self.text[i : i + size] for i in range(0, len(self.text), size)][:n] or [""]

    @property
    def output_tokens(self) -> int:
        return len(self.text.split()) or 1

    @property
    def thought_tokens(self) -> int:
        return len(self.thoughts.split())


def answer(last: str, turns: int, system: str | None, words: int, think: bool) -> Echo:
    """The fake's answer to `last` (the last user text) after `turns` turns."""
    calls = []
    for name, args in _CALL.findall(last):
        try:
            calls.append((name, json.loads(args)))
        except ValueError:
            pass
    prefix = f"[sys:{system[:40]}] " if system else ""
    text = "" if calls else f"{prefix}Echo: {last} (turns={turns})"
    thoughts = f"Thinking about: {last}" if think else ""
    return Echo(text, thoughts, max(words, 1), calls)


def signature(thinking: str) -> str:
    """The signature the Anthropic fake gives a thinking block (and checks on replay)."""
    return "sig-" + hashlib.sha256(thinking.encode()).hexdigest()[:24]


def vector(text: str, dims: int = 8) -> list[float]:
    """A deterministic unit-ish vector for an embedding."""
    digest = hashlib.sha256(text.encode()).digest()
    return [round((b - 128) / 128, 4) for b in digest[:dims]]


def text_of(content: Any) -> str:
    """The text of an OpenAI/Anthropic message content (a string or a list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""
