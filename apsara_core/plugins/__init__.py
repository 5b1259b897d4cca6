"""Plugins: tools keyed `provider/name`, found through the `apsara.plugins` entry points.

A distribution declares, in its pyproject.toml::

    [project.entry-points."apsara.plugins"]
    acme = "acme_tools:plugins"

The entry point loads either a `Plugin`, a list of them, or a callable returning one or a list
(the built-ins, google/calculator and google/echo, register the same way from Apsara's own
pyproject). A plugin whose entry point fails to import or returns something else is listed as
broken with its error; it never breaks the app.
"""

from __future__ import annotations

from apsara_core.plugins.base import Plugin, PluginContext
from apsara_core.plugins.registry import ENTRY_POINT_GROUP, BrokenPlugin, PluginRegistry

__all__ = ["ENTRY_POINT_GROUP", "BrokenPlugin", "Plugin", "PluginContext", "PluginRegistry"]
