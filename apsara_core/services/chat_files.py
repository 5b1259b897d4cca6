"""Files in model calls: stored file ids, gs:// and https:// URIs.

A stored file goes to the model as its Gemini File API copy. A local or S3 file is uploaded
to the File API on first use (S3 too: streamed from the bucket), and the copy's uri is kept on
the record until shortly before it expires (REUSE_MARGIN). A PROCESSING copy is polled until
ACTIVE first. When Gemini answers that a copy is gone (403/404: expired or deleted), every
stored file of the request is checked, those gone are uploaded again, once, and the call is
retried. A file stored only in the File API cannot be re-sent once it expired: that is a clear
FileExpiredError. Files of earlier turns whose record was deleted are left out of the history.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pymongo.asynchronous.database import AsyncDatabase

from apsara_core.clock import Clock
from apsara_core.errors import NotFoundError, ProviderBadRequestError, ValidationError
from apsara_core.providers.base import ProviderChunk, ProviderRequest
from apsara_core.repos import files as repo
from apsara_core.services.file_errors import FileExpiredError
from apsara_core.services.hints import LIST_FILES
from apsara_core.storage.types import BY_MIME, GOOGLE

if TYPE_CHECKING:
    from apsara_core.providers.base import Provider
    from apsara_core.services.files import FileService

REUSE_MARGIN = timedelta(hours=1)  # a copy this close to its expiry is uploaded anew


def _expired(rec: dict[str, Any]) -> FileExpiredError:
    return FileExpiredError(
        f"File {rec['fileId']} ({rec['displayName']}) was kept by the Gemini File API only until "
        f"its 48 hours ran out",
        field="files",
        suggestions=["Upload it again; store files you want to keep with local or s3"],
    )


class ChatFiles:
    """Stored files in model calls: checks, File API copies, and the retried stream."""

    def __init__(self, *, db: AsyncDatabase, files: FileService, clock: Clock) -> None:
        self._db = db
        self._files = files
        self._clock = clock

    async def attach(self, owner: str, parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Check the stored ids among `parts` (from `parse_files`) against `owner`'s files.

        Raises:
            NotFoundError: unknown, or another user's file (the same answer), naming files[i].
            ValidationError: a type Gemini does not read (image/gif).
        """
        ids = [p["fileId"] for p in parts if "fileId" in p]
        found = {r["fileId"]: r for r in await repo.find_many(self._db, ids)} if ids else {}
        out = []
        for i, part in enumerate(parts):
            if "fileId" not in part:
                out.append(part)
                continue
            rec = found.get(part["fileId"])
            if rec is None or rec["userId"] != owner:
                raise NotFoundError(
                    f"No file {part['fileId']!r}",
                    field=f"files[{i}]",
                    suggestions=[LIST_FILES],
                )
            kind = BY_MIME.get(rec["mimeType"])
            if kind is None or not kind.ai_ready:
                raise ValidationError(
                    f"files[{i}] is {rec['mimeType']}, which Gemini cannot read",
                    field=f"files[{i}]",
                )
            out.append(
                {
                    "fileId": rec["fileId"],
                    "mimeType": rec["mimeType"],
                    "displayName": rec["displayName"],
                }
            )
        return out

    async def _upload_copy(self, rec: dict[str, Any]) -> dict[str, Any]:
        """Upload a local or S3 file to the File API (streamed) and remember the copy."""
        files = self._files
        reader = await files.storage.get(rec["method"], field="files").open(rec["location"])
        try:
            remote = await files.gemini.upload(
                reader, mime=rec["mimeType"], display_name=rec["displayName"]
            )
        finally:
            await asyncio.to_thread(reader.close)
        remote = await files.gemini.wait_active(remote)
        await repo.set_remote(self._db, rec["fileId"], remote, self._clock.now())
        return remote

    async def model_part(
        self, owner: str, file_id: str, stats: dict[str, int]
    ) -> dict[str, str] | None:
        """The {"uri", "mimeType"} to send for a stored file (None: its record is gone)."""
        rec = await repo.find(self._db, file_id)
        if rec is None or rec["userId"] != owner:
            return None
        remote, now = rec.get("geminiFile"), self._clock.now()
        if rec["method"] == GOOGLE:
            if remote is None or remote["expiresAt"].replace(tzinfo=now.tzinfo) <= now:
                raise _expired(rec)
        elif remote is None or remote["expiresAt"].replace(tzinfo=now.tzinfo) - now <= REUSE_MARGIN:
            remote = await self._upload_copy(rec)
            stats["autoUploads"] = stats.get("autoUploads", 0) + 1
        if remote["state"] != "ACTIVE":
            remote = await self._files.gemini.wait_active(remote)
            await repo.set_remote(self._db, file_id, remote, now)
        return {"uri": remote["uri"], "mimeType": rec["mimeType"]}

    async def resolve(
        self, owner: str, request: ProviderRequest, stats: dict[str, int]
    ) -> ProviderRequest:
        """The request with every stored file id replaced by its File API uri."""
        turns = []
        for turn in request.turns:
            files = []
            for f in turn.files:
                part = await self.model_part(owner, f["fileId"], stats) if "fileId" in f else f
                if part is not None:
                    files.append(part)
            turns.append(replace(turn, files=files))
        return replace(request, turns=turns)

    async def refresh_gone(self, owner: str, request: ProviderRequest) -> int:
        """Forget the File API copies of the request's stored files that Gemini no longer
        has; how many were gone.

        Raises:
            FileExpiredError: a file stored only in the File API is gone.
        """
        ids = {f["fileId"] for t in request.turns for f in t.files if "fileId" in f}
        gone = 0
        for rec in await repo.find_many(self._db, sorted(ids)):
            remote = rec.get("geminiFile")
            if rec["userId"] != owner or remote is None:
                continue
            if await self._files.gemini.get(remote["name"]) is None:
                if rec["method"] == GOOGLE:
                    raise _expired(rec)
                await repo.set_remote(self._db, rec["fileId"], None, self._clock.now())
                gone += 1
        return gone

    async def stream(
        self, provider: Provider, request: ProviderRequest, *, owner: str, stats: dict[str, int]
    ) -> AsyncGenerator[ProviderChunk, None]:
        """`provider`'s stream with `owner`'s stored files resolved; re-uploads gone copies
        once. `stats` counts the auto-uploads (`autoUploads`). Only Gemini reads files: other
        providers get the turns without them (their prompt cannot carry any, see ChatService)."""
        if provider.name != "google":
            request = replace(request, turns=[replace(t, files=[]) for t in request.turns])
        if not any(f for t in request.turns for f in t.files if "fileId" in f):
            async for chunk in provider.stream(request):
                yield chunk
            return
        for attempt in (0, 1):
            started = False
            try:
                async for chunk in provider.stream(await self.resolve(owner, request, stats)):
                    started = True
                    yield chunk
                return
            except ProviderBadRequestError as exc:
                if (
                    started
                    or attempt
                    or exc.field != "files"
                    or not await self.refresh_gone(owner, request)
                ):
                    raise
