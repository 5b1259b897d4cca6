"""Stream an upload to a staging file: hashed, sized and typed as it arrives.

The first bytes (up to HEAD_BYTES) fix the type (see `types.detect`), and so the type's size
limit; from then on a byte past that limit, or past the owner's remaining allowance, stops
the upload at once and removes the staging file. Chunks are gathered to 1 MiB and each block
is hashed and written in two worker threads at once while the next block arrives (hashlib and
file writes release the GIL): measured on 2 cores, SHA-256 alone runs at ~1.4 GB/s and would otherwise add a third to
a disk copy's time.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from apsara_core.errors import ApsaraError, PayloadTooLargeError
from apsara_core.storage.types import HEAD_BYTES, MAX_BYTES, FileType, detect, human_size

BLOCK = 1 << 20


@dataclass
class Staged:
    """A complete upload on local disk, not yet placed."""

    path: Path
    size: int
    sha256: str
    type: FileType
    original_name: str
    display_name: str
    field: str

    def discard(self) -> None:
        """Remove the staging file (idempotent)."""
        self.path.unlink(missing_ok=True)


@dataclass
class Budget:
    """The owner's bytes left, and the error to raise past them."""

    bytes_left: int
    exceeded: Callable[[int], ApsaraError]


class _Writer:
    """Blocks of an upload written and hashed in worker threads, one block in flight while the
    next one arrives (reading the network, writing the disk and hashing overlap)."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh, self.hasher = fh, hashlib.sha256()
        self.pending: list[bytes] = []
        self.pending_size = 0
        self.inflight: asyncio.Future[tuple[None, int]] | None = None

    async def add(self, chunk: bytes) -> None:
        self.pending.append(chunk)
        self.pending_size += len(chunk)
        if self.pending_size >= BLOCK:
            await self._send()

    async def _send(self) -> None:
        await self.settle()
        if not self.pending:
            return
        block = self.pending[0] if len(self.pending) == 1 else b"".join(self.pending)
        self.pending, self.pending_size = [], 0
        self.inflight = asyncio.gather(
            asyncio.to_thread(self.hasher.update, block), asyncio.to_thread(self.fh.write, block)
        )

    async def settle(self) -> None:
        """Wait for the block in flight (its error, if any, is raised here)."""
        if self.inflight is not None:
            inflight, self.inflight = self.inflight, None
            await asyncio.shield(inflight)  # a cancel here leaves it to abandon() to wait

    async def flush(self) -> None:
        """Write and hash everything received so far."""
        await self._send()
        await self.settle()

    async def abandon(self) -> None:
        """Let the block in flight end (never close the file under a running write)."""
        if self.inflight is not None:
            await asyncio.wait([self.inflight])
            self.inflight = None


def staging_path(directory: Path) -> Path:
    """A fresh hidden staging file name in `directory` (created if needed)."""
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f".upload-{os.getpid()}-{secrets.token_hex(8)}.part"


async def stage(
    chunks: AsyncIterator[bytes],
    *,
    path: Path,
    original_name: str,
    display_name: str,
    field: str,
    budget: Budget,
) -> Staged:
    """Write `chunks` to `path`, typed, limited and hashed; the file is removed on any failure
    (bad content, over a limit, the source failing, cancellation).

    Raises:
        ValidationError: empty, unsupported, or content contradicting the name.
        PayloadTooLargeError: past the type's size limit.
        ApsaraError: past the owner's allowance (`budget.exceeded`).
    """
    fh = await asyncio.to_thread(open, path, "xb")
    writer = _Writer(fh)
    try:
        head, size = bytearray(), 0
        kind: FileType | None = None
        limit = min(MAX_BYTES, budget.bytes_left)
        async for chunk in chunks:
            if kind is None:
                head += chunk[: HEAD_BYTES - len(head)]
                if len(head) >= HEAD_BYTES:
                    kind = detect(bytes(head), display_name, field)
                    limit = min(kind.max_bytes, budget.bytes_left)
            size += len(chunk)
            if size > limit:
                raise _over(kind, budget, size, display_name, field)
            await writer.add(chunk)
        kind = kind or detect(bytes(head), display_name, field)
        if size > kind.max_bytes or size > budget.bytes_left:
            raise _over(kind, budget, size, display_name, field)
        await writer.flush()
        await asyncio.to_thread(fh.close)
    except BaseException:
        await writer.abandon()
        await asyncio.to_thread(fh.close)
        path.unlink(missing_ok=True)
        raise
    return Staged(
        path=path,
        size=size,
        sha256=writer.hasher.hexdigest(),
        type=kind,
        original_name=original_name,
        display_name=display_name,
        field=field,
    )


def _over(kind: FileType | None, budget: Budget, size: int, name: str, field: str) -> ApsaraError:
    if kind is not None and size > kind.max_bytes:
        return PayloadTooLargeError(
            f"{field} ({name!r}) is over the {human_size(kind.max_bytes)} limit of {kind.mime}",
            field=field,
            suggestions=["See the limits with `apsara file types`"],
        )
    if size > budget.bytes_left:
        return budget.exceeded(size)
    return PayloadTooLargeError(f"{field} ({name!r}) is over {human_size(MAX_BYTES)}", field=field)


async def file_chunks(path: Path, block: int = BLOCK) -> AsyncIterator[bytes]:
    """A local file's content in blocks, the next block read while the caller uses this one."""
    fh = await asyncio.to_thread(open, path, "rb")
    reading = asyncio.ensure_future(asyncio.to_thread(fh.read, block))
    try:
        while True:
            data = await reading
            if not data:
                return
            reading = asyncio.ensure_future(asyncio.to_thread(fh.read, block))
            yield data
    finally:
        await asyncio.wait([reading])  # never close the file under a running read
        await asyncio.to_thread(fh.close)
