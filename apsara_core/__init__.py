"""Apsara's core library: every rule lives here; front ends only translate.

The names below load on first use, so importing a light submodule (errors) stays cheap.
"""

from typing import Any

__all__ = ["ApsaraError", "Core", "Settings", "open_core"]
__version__ = "0.1.0"

_LAZY = {
    "Settings": "apsara_core.config",
    "Core": "apsara_core.core",
    "open_core": "apsara_core.core",
    "ApsaraError": "apsara_core.errors",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(name)
