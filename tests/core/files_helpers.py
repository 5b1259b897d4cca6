"""Helpers of the file tests: uploads from bytes, what the disk and database hold."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from apsara_core.core import Core
from apsara_core.models import Principal


async def chunks_of(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    """`data` in chunks, as a request body would arrive."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def upload(
    core: Core, actor: Principal, *files: tuple[str, bytes], **commit: Any
) -> list[dict[str, Any]]:
    """Upload (name, bytes) pairs in one batch; the stored records."""
    batch = await core.files.batch(actor=actor)
    try:
        for name, data in files:
            await batch.add(name, chunks_of(data))
    except BaseException:
        batch.discard()
        raise
    return await batch.commit(**commit)


def stored_paths(root: Path) -> list[Path]:
    """Every file under the upload root (staging files included)."""
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def records(core: Core) -> list[dict[str, Any]]:
    """Every file record."""
    return await core.db.files.find({}, {"_id": 0}).to_list(None)


async def usage(core: Core, user_id: str) -> dict[str, Any] | None:
    """The user's file usage counter."""
    return await core.db.file_usage.find_one({"_id": user_id})
