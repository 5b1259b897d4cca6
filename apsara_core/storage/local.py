"""Local disk: `<APSARA_UPLOAD_DIR>/<userId>/<file id><extension>`, never the client's name.

Uploads are staged in the owner's directory, so placing one is a rename on the same file
system: the object appears complete or not at all. The file's data and then the directory entry
are flushed to the disk before the record is written, so a crash after an upload was answered
never leaves a record pointing at an empty or truncated file.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any, BinaryIO

from apsara_core.errors import NotFoundError
from apsara_core.storage.base import PutRequest
from apsara_core.storage.names import owner_dir
from apsara_core.storage.types import LOCAL


class LocalStorage:
    """Objects as files under one root directory."""

    method = LOCAL

    def __init__(self, root: Path) -> None:
        self.root = root

    def owner_root(self, owner: str) -> Path:
        """The owner's directory (where their uploads are staged too)."""
        return self.root / owner_dir(owner)

    def _path(self, location: dict[str, Any]) -> Path:
        """The object's path; a stored path that leaves the root is treated as gone."""
        path = (self.root / str(location.get("path", ""))).resolve()
        if not path.is_relative_to(self.root.resolve()) or path == self.root.resolve():
            raise NotFoundError("The stored object is outside the upload directory")
        return path

    async def put(self, request: PutRequest) -> dict[str, Any]:
        """Flush the staged file (in the owner's directory) to disk and rename it to its
        generated name, durably."""
        target = self.owner_root(request.owner) / request.name
        await asyncio.to_thread(_durable_replace, request.staged, target)
        return {"path": f"{owner_dir(request.owner)}/{request.name}"}

    async def delete(self, location: dict[str, Any]) -> bool:
        """Remove the file; False when it was already gone."""
        try:
            await asyncio.to_thread(os.remove, self._path(location))
        except (FileNotFoundError, NotFoundError):
            return False
        return True

    async def open(self, location: dict[str, Any]) -> BinaryIO:
        """The file opened for reading.

        Raises:
            NotFoundError: the file is gone.
        """
        try:
            return await asyncio.to_thread(open, self._path(location), "rb")
        except FileNotFoundError:
            raise NotFoundError("The stored file is missing from the upload directory") from None

    async def purge_owner(self, owner: str) -> None:
        """Remove the owner's directory if it is empty (after their files went)."""
        try:
            await asyncio.to_thread(os.rmdir, self.owner_root(owner))
        except OSError:
            pass


def _fsync_path(path: Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _durable_replace(staged: Path, target: Path) -> None:
    """Flush `staged`'s data, rename it to `target`, then flush the directory entry."""
    _fsync_path(staged, os.O_RDONLY)
    os.replace(staged, target)
    _fsync_path(target.parent, os.O_RDONLY | os.O_DIRECTORY)
