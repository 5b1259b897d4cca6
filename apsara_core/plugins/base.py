"""What a plugin is: a provider/name, a description, a pydantic parameter model, a timeout,
whether it may run async, and the function that runs it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

DEFAULT_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class PluginContext:
    """What a running plugin may know about its call (it gets no database or secrets)."""

    user_id: str
    conversation_id: str
    call_id: str


RunFn = Callable[[Any, PluginContext], Any | Awaitable[Any]]


@dataclass(frozen=True)
class Plugin:
    """One plugin.

    Attributes:
        provider: the namespace (`google` for the built-ins), lowercase, no slash.
        name: the plugin's name within the provider.
        description: one line shown in lists.
        parameters: a pydantic model of the parameters (its JSON schema is published).
        run: `run(params, ctx)` returns a JSON-serialisable result; may be a coroutine
            function. A plain function runs in a worker thread so it never blocks the server.
        timeout_s: the longest a call may take (asyncio.timeout).
        may_run_async: whether a call may be queued as a background job.
    """

    provider: str
    name: str
    description: str
    parameters: type[BaseModel]
    run: RunFn
    timeout_s: float = DEFAULT_TIMEOUT_S
    may_run_async: bool = True
    source: str = field(default="", compare=False)

    @property
    def key(self) -> str:
        """`provider/name`."""
        return f"{self.provider}/{self.name}"

    def schema(self) -> dict[str, Any]:
        """The JSON schema of the parameters."""
        return self.parameters.model_json_schema()

    def describe(self) -> dict[str, Any]:
        """The public view: provider, name, description, parameters (schema), timeout, async."""
        return {
            "provider": self.provider,
            "name": self.name,
            "description": self.description,
            "parameters": self.schema(),
            "timeoutSeconds": self.timeout_s,
            "mayRunAsync": self.may_run_async,
            "source": self.source,
        }
