"""Declared provider instances on the session's fakes, for chat tests of every provider."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apsara_core.core import Core
from apsara_core.models import Principal
from tests.fakes.provider_fixtures import ANTHROPIC_KEY_ENV, OPENAI_KEY_ENV


@dataclass
class Declared:
    """A declared instance on a fake: its thinking and plain model ids and the fake."""

    name: str
    model: str
    think_model: str
    fake: Any

    def calls(self) -> list[dict[str, Any]]:
        """Request bodies the fake got for generation."""
        if hasattr(self.fake, "chat_calls"):
            return self.fake.chat_calls()
        return self.fake.calls()

    def thinking_config(self) -> dict[str, Any]:
        return {"thinkingConfig": {"includeThoughts": True, "thinkingBudget": 2048}}


async def declare(
    core: Core, kind: str, fake: Any, *, plans: tuple[str, ...] = ("premium",)
) -> Declared:
    """Declare an instance of `kind` on `fake` and give `plans` 100 messages a day of its models."""
    op = Principal.operator()
    if kind == "openai":
        name, models, env = (
            "oai",
            ["gpt-fake", "deep-think,thinks,window=32768", "emb,embedding"],
            OPENAI_KEY_ENV,
        )
        declared = Declared(name, "oai/gpt-fake", "oai/deep-think", fake)
    else:
        name, models, env = "claude", ["sonnet,thinks,window=200000", "haiku"], ANTHROPIC_KEY_ENV
        declared = Declared(name, "claude/haiku", "claude/sonnet", fake)
    await core.provider_catalog.add(
        actor=op,
        name=name,
        kind=kind,
        base_url=fake.base_url,
        api_key_env=env,
        api_key_file=None,
        models=models,
    )
    for plan in plans:
        for model in (declared.model, declared.think_model):
            await core.plans.set_limit(actor=op, plan=plan, model=model, daily=100)
    return declared
