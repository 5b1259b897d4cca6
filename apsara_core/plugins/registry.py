"""The registry: loads every `apsara.plugins` entry point once, keeps the broken ones apart."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from apsara_core.errors import NotFoundError
from apsara_core.plugins.base import Plugin

ENTRY_POINT_GROUP = "apsara.plugins"
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BrokenPlugin:
    """An entry point that could not be loaded, and why."""

    entry_point: str
    value: str
    error: str

    def describe(self) -> dict[str, Any]:
        """{entryPoint, value, error}."""
        return {"entryPoint": self.entry_point, "value": self.value, "error": self.error}


def _as_plugins(loaded: Any) -> list[Plugin]:
    if callable(loaded) and not isinstance(loaded, Plugin):
        loaded = loaded()
    items = [loaded] if isinstance(loaded, Plugin) else list(loaded)
    for item in items:
        if not isinstance(item, Plugin):
            raise TypeError(f"expected Plugin objects, got {type(item).__name__}")
        for part in (item.provider, item.name):
            if not NAME_RE.match(part):
                raise ValueError(f"bad plugin name {part!r} (lowercase letters, digits, _.-)")
    return items


class PluginRegistry:
    """Plugins keyed `provider/name`, loaded from entry points (or given, for tests)."""

    def __init__(self, plugins: Iterable[Plugin] | None = None) -> None:
        self._plugins: dict[str, Plugin] = {}
        self.broken: list[BrokenPlugin] = []
        if plugins is None:
            self._load(entry_points(group=ENTRY_POINT_GROUP))
        else:
            for plugin in plugins:
                self._plugins[plugin.key] = plugin

    def _load(self, points: Iterable[EntryPoint]) -> None:
        for point in sorted(points, key=lambda p: (p.name, p.value)):
            try:
                found = _as_plugins(point.load())
            except Exception as exc:  # a broken third-party package never breaks the app
                log.warning("plugin entry point %s failed: %s", point.name, exc)
                self.broken.append(
                    BrokenPlugin(point.name, point.value, f"{type(exc).__name__}: {exc}")
                )
                continue
            for plugin in found:
                if plugin.key in self._plugins:
                    error = (
                        f"{plugin.key} is already registered by {self._plugins[plugin.key].source}"
                    )
                    self.broken.append(BrokenPlugin(point.name, point.value, error))
                    continue
                object.__setattr__(plugin, "source", point.value)
                self._plugins[plugin.key] = plugin

    def all(self, provider: str | None = None) -> list[Plugin]:
        """Every plugin (of one provider), sorted by key."""
        return [
            p
            for k, p in sorted(self._plugins.items())
            if provider is None or p.provider == provider
        ]

    def providers(self) -> list[str]:
        """The providers that have at least one plugin."""
        return sorted({p.provider for p in self._plugins.values()})

    def get(self, provider: Any, name: Any) -> Plugin:
        """The plugin `provider/name`.

        Raises:
            NotFoundError: unknown provider or plugin; the message lists what exists.
        """
        if not isinstance(provider, str) or provider not in self.providers():
            raise NotFoundError(
                f"Unknown plugin provider {provider!r}; providers: "
                f"{', '.join(self.providers()) or 'none'}",
                field="provider",
                suggestions=["apsara plugin list"],
            )
        plugin = self._plugins.get(f"{provider}/{name}")
        if plugin is None:
            names = ", ".join(p.name for p in self.all(provider))
            raise NotFoundError(
                f"Unknown plugin {name!r} of provider {provider}; its plugins: {names}",
                field="plugin",
                suggestions=["apsara plugin list"],
            )
        return plugin
