"""Stage a local file by a kernel copy: the fast path of `apsara file upload PATH`.

The generic `staging.stage` reads every block into Python, hashes it and writes it back: two
copies through user space and a fresh 1 MiB object per block. For a source that is already
a file on this machine, the kernel copies instead (`os.copy_file_range`, 8 MiB a step, page
cache to page cache with no user-space copy), while a thread of the upload's own hashes what
has landed in the staging file (read back into one reused buffer). The hash is of the bytes
stored, never of a source that may change under the copy, and so is the type: the head is
read back from the staging file. Limits hold as in `stage`: the size known from the source
is checked before a byte is copied, and the bytes actually copied are checked at every step.

Measured on 2 cores, 1 GiB ending with fsync (README, files row): see the note in
tests/benchmarks/bench_files.py. Where the kernel refuses the copy (another file system on an
old kernel, a special file), `stage_path` falls back to the generic path.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from apsara_core.storage.staging import (
    FLUSH_AFTER,
    Budget,
    Staged,
    file_chunks,
    over_limit,
    stage,
    start_writeback,
)
from apsara_core.storage.types import HEAD_BYTES, MAX_BYTES, detect

STEP = FLUSH_AFTER  # bytes per kernel copy; writeback starts after each
DEPTH = 4  # steps copied ahead of the hash
_REFUSED = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF}


class _Refused(Exception):
    """The kernel will not copy this source (before a byte was copied)."""


class _Hasher:
    """SHA-256 of a file's ranges, read back in order into one reused buffer."""

    def __init__(self, fd: int) -> None:
        self.fd, self.sha = fd, hashlib.sha256()
        self.buffer = memoryview(bytearray(STEP))

    def update(self, offset: int, length: int) -> None:
        while length:
            n = os.preadv(self.fd, [self.buffer[: min(length, STEP)]], offset)
            if n == 0:
                raise OSError(errno.EIO, "the staging file is shorter than what was copied")
            self.sha.update(self.buffer[:n])
            offset, length = offset + n, length - n


async def stage_path(
    source: Path,
    *,
    path: Path,
    original_name: str,
    display_name: str,
    field: str,
    budget: Budget,
    progress: Callable[[int], None] | None = None,
) -> Staged:
    """`staging.stage` for a local file, copied by the kernel (see the module docstring);
    `progress(n)` after every n bytes copied. Raises as `stage` does."""
    src = await asyncio.to_thread(os.open, source, os.O_RDONLY)
    try:
        size = os.fstat(src).st_size  # refused early: a wrong type, or known to be too big
        kind = detect(os.pread(src, HEAD_BYTES, 0), display_name, field)
        if size > min(MAX_BYTES, kind.max_bytes, budget.bytes_left):
            raise over_limit(kind, budget, size, display_name, field)
        staged = await _copy(src, path, original_name, display_name, field, budget, progress)
    finally:
        os.close(src)
    if staged is not None:
        return staged
    return await stage(  # the kernel refused: the generic path
        _reading(source, progress),
        path=path,
        original_name=original_name,
        display_name=display_name,
        field=field,
        budget=budget,
    )


async def _copy(
    src: int,
    path: Path,
    original_name: str,
    name: str,
    field: str,
    budget: Budget,
    progress: Callable[[int], None] | None,
) -> Staged | None:
    """Copy and hash into a new `path`; None when the kernel refuses the first step."""
    dst = await asyncio.to_thread(os.open, path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    copying, hashing = ThreadPoolExecutor(1), ThreadPoolExecutor(1)
    hasher, inflight = _Hasher(os.open(path, os.O_RDONLY)), deque[asyncio.Future[Any]]()
    loop = asyncio.get_running_loop()
    done, kind, limit = 0, None, min(MAX_BYTES, budget.bytes_left)
    try:
        while True:
            try:
                n = await loop.run_in_executor(copying, os.copy_file_range, src, dst, STEP)
            except OSError as exc:
                if done == 0 and exc.errno in _REFUSED:
                    raise _Refused from exc
                raise
            if n == 0:
                if done == 0:  # a non-empty source (its head was read) the kernel copies as
                    raise _Refused  # empty: a pseudo-file; read it the ordinary way
                break
            if kind is None and (done + n >= HEAD_BYTES):
                kind = detect(os.pread(hasher.fd, HEAD_BYTES, 0), name, field)
                limit = min(kind.max_bytes, budget.bytes_left)
            if done + n > limit:
                raise over_limit(kind, budget, done + n, name, field)
            start_writeback(dst, done, n)
            while len(inflight) >= DEPTH:
                await asyncio.shield(inflight.popleft())
            inflight.append(loop.run_in_executor(hashing, hasher.update, done, n))
            done += n
            if progress is not None:
                progress(n)
        kind = kind or detect(os.pread(hasher.fd, HEAD_BYTES, 0), name, field)
        while inflight:
            await asyncio.shield(inflight.popleft())
    except BaseException as exc:
        if inflight:
            await asyncio.wait(list(inflight))  # never close a file under a running read
        os.close(dst)
        path.unlink(missing_ok=True)
        if isinstance(exc, _Refused):
            return None
        raise
    finally:
        copying.shutdown(wait=False)
        hashing.shutdown(wait=False)
        os.close(hasher.fd)
    os.close(dst)
    return Staged(
        path=path,
        size=done,
        sha256=hasher.sha.hexdigest(),
        type=kind,
        original_name=original_name,
        display_name=name,
        field=field,
    )


async def _reading(source: Path, progress: Callable[[int], None] | None) -> AsyncIterator[bytes]:
    async for block in file_chunks(source):
        if progress is not None:
            progress(len(block))
        yield block
