"""Apsara's core library: every rule lives here; front ends only translate."""

from apsara_core.config import Settings
from apsara_core.core import Core, open_core
from apsara_core.errors import ApsaraError

__all__ = ["ApsaraError", "Core", "Settings", "open_core"]
__version__ = "0.1.0"
