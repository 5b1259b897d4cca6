"""File storage backends behind one interface: local disk, S3, the Gemini File API.

`StorageSet` holds the configured backends by method name; `staging` streams an upload to a
file next to its final place, `auto` picks a method, `types` is the table of supported types.
"""

from apsara_core.storage.base import Backend, StorageSet

__all__ = ["Backend", "StorageSet"]
