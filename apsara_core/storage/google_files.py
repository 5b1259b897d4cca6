"""The Gemini File API through the google-genai SDK: upload (resumable), get, delete, and
waiting for a PROCESSING file to become ACTIVE.

Uploads run the SDK's blocking client in a worker thread: its async upload reads a file
object with blocking `read` calls on the event loop, which an S3 body would stall. A
resource is kept as `{"name", "uri", "state", "expiresAt", "mimeType"}`; the API keeps a
file 48 hours.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from apsara_core.clock import wall_clock
from apsara_core.errors import ProviderBadRequestError, ProviderUnavailableError, ValidationError
from apsara_core.storage.base import PutRequest
from apsara_core.storage.types import GOOGLE

if TYPE_CHECKING:
    from google import genai
    from google.genai import types as genai_types

KEEP = timedelta(hours=48)
FIRST_POLL_S, MAX_POLL_S = 0.1, 2.0
_GONE = object()


def resource(file: Any) -> dict[str, Any]:
    """The stored form of an SDK `File`."""
    state = getattr(file.state, "value", file.state)
    expires = file.expiration_time or wall_clock() + KEEP
    return {
        "name": file.name,
        "uri": file.uri,
        "state": str(state or "ACTIVE"),
        "expiresAt": expires,
        "mimeType": file.mime_type,
    }


def _gone(exc: BaseException) -> bool:
    """A 403/404 from the File API: the file does not exist (any more) for this key."""
    from google.genai import errors as genai_errors

    return isinstance(exc, genai_errors.ClientError) and exc.code in (403, 404)


class GoogleFiles:
    """Files in the Gemini File API; also the `google-file-api` storage backend."""

    method = GOOGLE

    def __init__(
        self,
        *,
        client: Callable[[], genai.Client],
        active_timeout_s: float,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._client, self._timeout, self._sleep = client, active_timeout_s, sleep

    async def _sdk(self, call: Callable[[], Awaitable[Any]], *, gone_ok: bool = False) -> Any:
        """Run an SDK call, its errors mapped to ProviderErrors; `_GONE` for a 403/404 when
        `gone_ok`."""
        from apsara_core.providers.google import map_error

        try:
            return await call()
        except Exception as exc:
            if gone_ok and _gone(exc):
                return _GONE
            mapped = map_error(exc)
            if mapped is None:
                raise
            raise mapped from exc

    async def upload(self, reader: BinaryIO, *, mime: str, display_name: str) -> dict[str, Any]:
        """Upload a reader's content; the new resource (maybe still PROCESSING).

        A cancelled upload finishes in its thread and the new file is then deleted.
        """
        client = self._client()
        config: genai_types.UploadFileConfigDict = {
            "mime_type": mime,
            "display_name": display_name[:512],
        }
        # Every store's reader is an io.IOBase (an open file, SizedReader), which the SDK checks.
        file = cast(io.IOBase, reader)
        work = asyncio.ensure_future(
            asyncio.to_thread(client.files.upload, file=file, config=config)
        )
        try:
            uploaded = await self._sdk(lambda: asyncio.shield(work))
        except asyncio.CancelledError:
            await asyncio.wait([work])
            if not work.cancelled() and work.exception() is None:
                await asyncio.shield(self.delete({"name": work.result().name}))
            raise
        return resource(uploaded)

    async def put(self, request: PutRequest) -> dict[str, Any]:
        """Upload a staged file."""
        reader = await asyncio.to_thread(open, request.staged, "rb")
        try:
            return await self.upload(reader, mime=request.mime, display_name=request.display_name)
        finally:
            await asyncio.to_thread(reader.close)

    async def get(self, name: str) -> dict[str, Any] | None:
        """The file's current resource; None when the API no longer has it (403/404)."""
        client = self._client()
        found = await self._sdk(lambda: client.aio.files.get(name=name), gone_ok=True)
        return None if found is _GONE else resource(found)

    async def delete(self, location: dict[str, Any]) -> bool:
        """Delete the file; False when it was already gone (or expired)."""
        client = self._client()
        done = await self._sdk(lambda: client.aio.files.delete(name=location["name"]), gone_ok=True)
        return done is not _GONE

    async def open(self, location: dict[str, Any]) -> BinaryIO:
        """The File API does not give uploaded files back.

        Raises:
            ValidationError: always.
        """
        raise ValidationError(
            "Files stored in the Gemini File API cannot be downloaded",
            field="fileId",
            suggestions=["Store files to keep with local or s3"],
        )

    async def wait_active(self, remote: dict[str, Any]) -> dict[str, Any]:
        """Poll a PROCESSING file until it is ACTIVE (at most APSARA_FILE_ACTIVE_TIMEOUT_S).

        Returns:
            The ACTIVE resource.

        Raises:
            ProviderBadRequestError: processing FAILED, or the file vanished.
            ProviderUnavailableError: still PROCESSING when the time ran out.
        """
        loop, delay = asyncio.get_running_loop(), FIRST_POLL_S
        deadline = loop.time() + self._timeout
        while remote["state"] == "PROCESSING":
            if loop.time() >= deadline:
                raise ProviderUnavailableError(
                    f"Gemini is still processing {remote['name']} after {self._timeout:g} s",
                    suggestions=["Try again in a minute; raise APSARA_FILE_ACTIVE_TIMEOUT_S"],
                )
            await self._sleep(min(delay, max(deadline - loop.time(), 0)))
            delay = min(delay * 2, MAX_POLL_S)
            fresh = await self.get(remote["name"])
            if fresh is None:
                raise ProviderBadRequestError(
                    f"Gemini lost {remote['name']} while processing it", field="files"
                )
            remote = fresh
        if remote["state"] != "ACTIVE":
            raise ProviderBadRequestError(
                f"Gemini could not process {remote['name']} (state {remote['state']})",
                field="files",
            )
        return remote
