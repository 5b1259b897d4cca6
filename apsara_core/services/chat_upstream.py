"""The model's stream opened ahead of its reader: the call starts while the quota is reserved.

`Upstream(chunks)` runs the provider's chunk generator in a task of its own from the moment it
is made, buffering what arrives (a bounded queue, so a slow reader still holds the model back);
`ReplyRunner.run` reads it later as it would read the generator. `aclose()` cancels the task,
which closes the provider's stream and with it the upstream HTTP call (a refused reservation,
a consumer that went away). Errors of the stream are raised to the reader as they were raised.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any

from apsara_core.providers.base import ProviderChunk

BUFFERED = 256  # chunks held for a reader that has not caught up


class Upstream:
    """A provider stream pulled by a task of its own; iterate it once, then `aclose()`."""

    def __init__(self, chunks: AsyncGenerator[ProviderChunk, None]) -> None:
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(BUFFERED)
        self._task = asyncio.ensure_future(self._pull(chunks))

    async def _pull(self, chunks: AsyncGenerator[ProviderChunk, None]) -> None:
        async with aclosing(chunks) as stream:
            try:
                async for chunk in stream:
                    await self._queue.put(("chunk", chunk))
            except Exception as exc:
                await self._queue.put(("error", exc))
                return
        await self._queue.put(("end", None))

    def __aiter__(self) -> AsyncIterator[ProviderChunk]:
        return self._read()

    async def _read(self) -> AsyncIterator[ProviderChunk]:
        while True:
            kind, value = await self._queue.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value

    async def aclose(self) -> None:
        """Stop the call (a no-op once it ended): cancels the task and waits for it."""
        self._task.cancel()
        await asyncio.wait([self._task])  # our own cancellation still raises here
        if not self._task.cancelled():
            self._task.exception()  # retrieved: it was given to the reader, if any
