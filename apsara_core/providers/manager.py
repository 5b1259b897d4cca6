"""ProviderManager: picks the provider of a model name.

Providers arrive through one hook, as in simonw/llm: a plugin is any module or object with
``register_providers(register, settings)`` that calls ``register(provider)``. A plugin gets the
settings (to read its key and endpoint) and the registration hook, nothing else: no database,
no services. The built-in Google provider is such a plugin (listed in BUILTIN_PLUGINS); third
parties publish theirs under the ``apsara.providers`` entry-point group or call
`ProviderManager.add_plugin` at runtime.
"""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import entry_points
from typing import Any

from apsara_core.config import Settings
from apsara_core.errors import ConfigError, ValidationError
from apsara_core.providers.base import Provider
from apsara_core.providers.instances import InstanceConfig

BUILTIN_PLUGINS = ["apsara_core.providers.google"]
ENTRY_POINT_GROUP = "apsara.providers"
log = logging.getLogger(__name__)


class ProviderManager:
    """The registered providers and the model ids each serves."""

    def __init__(self, *, settings: Settings) -> None:
        self._settings = settings
        self._providers: dict[str, Provider] = {}
        for name in BUILTIN_PLUGINS:
            self.add_plugin(importlib.import_module(name))
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                self.add_plugin(ep.load())
            except Exception:  # a broken third-party plugin must not take the core down
                log.exception("provider plugin %s failed to load", ep.name)

    def add_plugin(self, plugin: Any) -> None:
        """Call the plugin's `register_providers(register, settings)` hook."""
        hook = getattr(plugin, "register_providers", None)
        if hook is None:
            raise ConfigError(f"Provider plugin {plugin!r} has no register_providers hook")
        hook(self.register, self._settings)

    def register(self, provider: Provider) -> None:
        """Add (or replace) a provider under its name."""
        self._providers[provider.name] = provider

    def unregister(self, name: str) -> None:
        """Forget a provider (a removed instance)."""
        self._providers.pop(name, None)

    def set_instances(self, configs: list[InstanceConfig]) -> None:
        """Register the declared instances, replacing those whose declaration changed and
        dropping the ones no longer declared (built-in and plugin providers stay)."""
        wanted = {c.name: c for c in configs}
        for name, provider in list(self._providers.items()):
            config = getattr(provider, "config", None)
            if isinstance(config, InstanceConfig) and wanted.get(name) != config:
                self.unregister(name)  # its pooled connections close when it is collected
        for name, config in wanted.items():
            if name not in self._providers:
                self.register(build_instance(config, self._settings))

    async def aclose(self) -> None:
        """Close the SDK clients of the providers (the built-in Gemini one and declared instances)."""
        for provider in self._providers.values():
            closer = getattr(provider, "aclose", None)
            if closer is not None:
                try:
                    await closer()
                except Exception:  # closing must never fail the shutdown
                    log.exception("closing provider %s failed", provider.name)

    def get(self, name: str) -> Provider:
        """The provider registered as `name`.

        Raises:
            ConfigError: no such provider.
        """
        if name not in self._providers:
            raise ConfigError(f"No AI provider {name!r} is registered")
        return self._providers[name]

    def providers(self) -> list[Provider]:
        """Every registered provider."""
        return list(self._providers.values())

    def known_models(self) -> list[str]:
        """Every generation model id, in registration order."""
        return [m for p in self._providers.values() for m in p.models()]

    def known_embedding_models(self) -> list[str]:
        """Every embedding model id."""
        return [m for p in self._providers.values() for m in p.embedding_models()]

    def for_model(self, model: Any) -> Provider:
        """The provider serving a generation model.

        Raises:
            ValidationError: unknown model (the message lists the known ones).
        """
        for provider in self._providers.values():
            if isinstance(model, str) and model in provider.models():
                return provider
        raise ValidationError(
            f"Unknown model {model!r}; known models: {', '.join(self.known_models())}",
            field="model",
        )

    def for_embedding_model(self, model: Any) -> Provider:
        """The provider serving an embedding model.

        Raises:
            ValidationError: unknown embedding model.
        """
        for provider in self._providers.values():
            if isinstance(model, str) and model in provider.embedding_models():
                return provider
        raise ValidationError(
            f"Unknown embedding model {model!r}; known models: "
            f"{', '.join(self.known_embedding_models())}",
            field="model",
        )


def build_instance(config: InstanceConfig, settings: Settings) -> Provider:
    """The provider of a declared instance (the SDK is imported only when one is declared).

    Raises:
        ConfigError: an unknown kind.
    """
    if config.kind == "openai":
        from apsara_core.providers.openai_compat import OpenAIProvider

        return OpenAIProvider(config, settings)
    if config.kind == "anthropic":
        from apsara_core.providers.anthropic_provider import AnthropicProvider

        return AnthropicProvider(config, settings)
    raise ConfigError(f"Provider {config.name} has an unknown kind {config.kind!r}")
