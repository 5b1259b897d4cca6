"""Provider instances as data: what an operator declares with `apsara provider add`.

An instance has a name (the `NAME/` prefix of its model ids), a kind (openai or anthropic), a
base URL, where its API key comes from (an environment variable or a secret file; the key itself
is never stored) and its models with their context window and whether they think.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apsara_core.errors import ConfigError, NoApiKeyError, ProviderError, ProviderUnavailableError

DEFAULT_CONTEXT_WINDOW = 128_000
NO_KEY = "no-key"  # sent to local servers (Ollama, vLLM) configured without a key


@dataclass(frozen=True)
class ModelSpec:
    """One model of an instance: its id upstream, context window and whether it thinks."""

    name: str
    context_window: int = DEFAULT_CONTEXT_WINDOW
    thinks: bool = False
    embedding: bool = False

    def to_doc(self) -> dict[str, Any]:
        """The stored form."""
        return {
            "name": self.name,
            "contextWindow": self.context_window,
            "thinks": self.thinks,
            "embedding": self.embedding,
        }


@dataclass(frozen=True)
class InstanceConfig:
    """A declared provider instance."""

    name: str
    kind: str
    base_url: str | None = None
    api_key_env: str | None = None
    api_key_file: str | None = None
    models: tuple[ModelSpec, ...] = field(default_factory=tuple)

    def model_ids(self) -> list[str]:
        """The routed ids, `NAME/MODEL`."""
        return [f"{self.name}/{m.name}" for m in self.models]

    def spec(self, model: str) -> ModelSpec:
        """The spec of a routed (or bare upstream) model id."""
        bare = model.removeprefix(f"{self.name}/")
        for m in self.models:
            if m.name == bare:
                return m
        return ModelSpec(bare)

    def upstream(self, model: str) -> str:
        """The upstream model id of a routed one."""
        return model.removeprefix(f"{self.name}/")

    def api_key(self, *, required: bool) -> str | None:
        """The key from the environment variable or the secret file.

        Raises:
            NoApiKeyError: `required`, and neither gives a non-empty key.
        """
        key = None
        if self.api_key_env:
            key = os.environ.get(self.api_key_env, "").strip() or None
        if key is None and self.api_key_file:
            try:
                key = Path(self.api_key_file).read_text().strip() or None
            except OSError as exc:
                raise ConfigError(
                    f"Provider {self.name}: cannot read the key file {self.api_key_file}: {exc}",
                    field="apiKeyFile",
                ) from exc
        if key is None and required:
            where = self.api_key_env or self.api_key_file or "--api-key-env VAR"
            raise NoApiKeyError(
                f"No API key for provider {self.name}: set {where}",
                suggestions=[f"export {self.api_key_env or 'VAR'}=... before starting Apsara"],
            )
        return key

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> InstanceConfig:
        """From the stored document."""
        return cls(
            name=doc["name"],
            kind=doc["kind"],
            base_url=doc.get("baseUrl"),
            api_key_env=doc.get("apiKeyEnv"),
            api_key_file=doc.get("apiKeyFile"),
            models=tuple(
                ModelSpec(
                    m["name"],
                    int(m.get("contextWindow") or DEFAULT_CONTEXT_WINDOW),
                    bool(m.get("thinks")),
                    bool(m.get("embedding")),
                )
                for m in doc.get("models") or []
            ),
        )

    def to_doc(self) -> dict[str, Any]:
        """The stored document (never a key)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "baseUrl": self.base_url,
            "apiKeyEnv": self.api_key_env,
            "apiKeyFile": self.api_key_file,
            "models": [m.to_doc() for m in self.models],
        }


def history_budget(context_window: int, configured: int | None) -> int:
    """Input tokens of history for a model: the setting, else the window minus an output
    reserve (a quarter of the window, at most 16k)."""
    if configured:
        return min(configured, context_window)
    return context_window - min(context_window // 4, 16_384)


async def next_item(
    iterator: AsyncIterator[Any],
    *,
    idle: float,
    label: str,
    map_error: Callable[[BaseException], ProviderError | None],
) -> Any | None:
    """The next SDK event (None at the end), bounded by the idle timeout; SDK errors mapped."""
    try:
        async with asyncio.timeout(idle):
            return await iterator.__anext__()
    except StopAsyncIteration:
        return None
    except TimeoutError:
        raise ProviderUnavailableError(
            f"{label} sent nothing for {idle:g} s; the reply was given up",
            suggestions=["Try again; raise APSARA_GEMINI_IDLE_TIMEOUT_S for slow models"],
        ) from None
    except Exception as exc:
        mapped = map_error(exc)
        if mapped is None:
            raise
        raise mapped from exc


async def close_quietly(stream: Any) -> None:
    """Close an SDK stream (ends the HTTP response); a failure closing it is ignored."""
    closer = getattr(stream, "close", None) or getattr(stream, "aclose", None)
    if closer is None:
        return
    try:
        await closer()
    except Exception:  # closing a broken stream must not hide the real error
        pass
