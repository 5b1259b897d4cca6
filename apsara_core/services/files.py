"""FileService: upload (one or many files), list, show, delete, download, and the purge of a
deleted user's objects.

An upload is a batch: each file is streamed to a staging file in its owner's directory
(typed, limited and hashed as it arrives, see storage/staging.py); once every file of the
request is in, the method is chosen (explicitly, or `auto` from size, count and preference),
the plan's limits are counted in one conditional update, the files are placed and their
records stored. Any failure on the way removes every staged file and placed object and gives
the counted usage back: nothing is left half-written.

Another user's file answers NotFoundError exactly like an unknown id.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from apsara_core.clock import Clock
from apsara_core.errors import NotFoundError, PermissionDeniedError, ValidationError
from apsara_core.models import Principal
from apsara_core.repos import files as repo
from apsara_core.services.file_errors import FileLimitError
from apsara_core.services.hints import LIST_FILES
from apsara_core.storage import names
from apsara_core.storage.auto import Choice, check_preference, choose
from apsara_core.storage.base import PutRequest, StorageSet, check_method
from apsara_core.storage.google_files import GoogleFiles
from apsara_core.storage.kernel_copy import stage_path
from apsara_core.storage.local import LocalStorage
from apsara_core.storage.staging import Budget, Staged, stage, staging_path
from apsara_core.storage.types import GOOGLE, table

MAX_FILES_PER_REQUEST = 10
MAX_PAGE_SIZE = 100
log = logging.getLogger(__name__)
PUBLIC = (
    "fileId",
    "userId",
    "displayName",
    "originalName",
    "size",
    "mimeType",
    "kind",
    "sha256",
    "method",
    "reason",
    "location",
    "geminiFile",
    "createdAt",
    "updatedAt",
)


def public_file(doc: dict[str, Any]) -> dict[str, Any]:
    """A file record as callers see it."""
    return {k: doc.get(k) for k in PUBLIC}


def check_file_id(value: Any, field: str = "fileId") -> str:
    """A file id string (an id of another shape is simply unknown: NotFoundError).

    Raises:
        ValidationError: not a string.
        NotFoundError: not the shape of a file id.
    """
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{field} must be a file id string", field=field)
    if not names.is_file_id(value.strip()):
        raise NotFoundError(f"No file {value[:60]!r}", field=field)
    return value.strip()


class UploadBatch:
    """The files of one upload request, staged one after another, then committed together."""

    def __init__(
        self, service: FileService, actor: Principal, limits: dict[str, int], usage: dict[str, int]
    ) -> None:
        self._service, self.actor, self.limits, self.usage = service, actor, limits, usage
        self.staged: list[Staged] = []

    @property
    def staged_bytes(self) -> int:
        """Bytes staged so far."""
        return sum(s.size for s in self.staged)

    def _limit_error(self, files: int, size: int) -> FileLimitError:
        return FileLimitError(
            plan=self.actor.plan,
            usage=self.usage,
            limits=self.limits,
            adding_files=files,
            adding_bytes=size,
        )

    async def add(self, name: Any, chunks: AsyncIterator[bytes]) -> Staged:
        """Stream one file to staging.

        Raises:
            ValidationError: too many files, no name, empty or bad content.
            PayloadTooLargeError: over the type's limit.
            FileLimitError: over the plan's file count or bytes.
        """
        staged = await stage(chunks, **self._next(name))
        self.staged.append(staged)
        return staged

    async def add_path(self, path: Path, progress: Callable[[int], None] | None) -> Staged:
        """Stage a local file by a kernel copy; `progress(n)` after every n bytes. Raises as
        `add` does, and ValidationError when `path` is not a readable file."""
        if not path.is_file():
            raise ValidationError(f"{path} is not a readable file", field="path")
        staged = await stage_path(path, **self._next(path.name), progress=progress)
        self.staged.append(staged)
        return staged

    def _next(self, name: Any) -> dict[str, Any]:
        """The staging arguments of the next file, after the per-request and plan checks."""
        index = len(self.staged)
        field = f"files[{index}]"
        if index >= MAX_FILES_PER_REQUEST:
            raise ValidationError(
                f"At most {MAX_FILES_PER_REQUEST} files per request", field="files"
            )
        if not isinstance(name, str):
            raise ValidationError(f"{field} must have a file name", field=field)
        if self.usage["files"] + index + 1 > self.limits["maxFiles"]:
            raise self._limit_error(index + 1, self.staged_bytes)
        left = self.limits["maxBytes"] - self.usage["bytes"] - self.staged_bytes
        budget = Budget(
            max(left, 0), lambda size: self._limit_error(index + 1, self.staged_bytes + size)
        )
        return {
            "path": staging_path(self._service.local.owner_root(self.actor.user_id)),
            "field": field,
            "original_name": names.original_name(name),
            "display_name": names.display_name(name),
            "budget": budget,
        }

    def discard(self) -> None:
        """Remove every staged file."""
        for staged in self.staged:
            staged.discard()
        self.staged.clear()

    async def commit(
        self, *, method: Any = "auto", preference: Any = None, display_name: Any = None
    ) -> list[dict[str, Any]]:
        """Place every staged file and store their records; the public records.

        Raises:
            ValidationError: no file, a bad method, preference or display name, or a method
                the type does not allow.
            StorageNotConfiguredError: the method is not configured here.
            FileLimitError: the plan's limits (counted atomically).
            StorageUnavailableError, ProviderError: the backend failed.
        """
        try:
            return await self._service.commit(
                self, method=method, preference=preference, display_name=display_name
            )
        finally:
            self.discard()


class FileService:
    """Stored files of users (see the module docstring)."""

    def __init__(
        self,
        *,
        db: AsyncDatabase,
        storage: StorageSet,
        local: LocalStorage,
        gemini: GoogleFiles,
        plan_limits: Callable[[str], Any],
        clock: Clock,
    ) -> None:
        self.db, self.storage, self.local, self.gemini = db, storage, local, gemini
        self._plan_limits, self._clock = plan_limits, clock.now

    @staticmethod
    def types() -> list[dict[str, Any]]:
        """The supported types: MIME type, extensions, size limit, methods."""
        return table()

    async def batch(self, *, actor: Principal) -> UploadBatch:
        """A new upload batch for the actor's own files.

        Raises:
            ValidationError: the actor is the bare operator (no user chosen).
        """
        if actor.user_id == "operator":
            raise ValidationError(
                "Files belong to a user: choose one (--user EMAIL_OR_ID)", field="userId"
            )
        limits = await self._plan_limits(actor.plan)
        return UploadBatch(self, actor, limits, await repo.usage(self.db, actor.user_id))

    async def upload_paths(
        self,
        *,
        actor: Principal,
        paths: list[Path],
        method: Any = "auto",
        preference: Any = None,
        display_name: Any = None,
        progress: Callable[[int], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Upload local files (the CLI and the app); `progress(n)` after every n bytes read."""
        check_method(method)
        check_preference(preference)
        batch = await self.batch(actor=actor)
        try:
            for path in paths:
                await batch.add_path(path, progress)
        except BaseException:
            batch.discard()
            raise
        return await batch.commit(method=method, preference=preference, display_name=display_name)

    def _pick(self, staged: Staged, method: str, preference: str | None, count: int) -> Choice:
        kind = staged.type
        if method == "auto":
            return choose(
                size=staged.size,
                count=count,
                kind=kind,
                preference=preference,
                available=self.storage.available,
            )
        self.storage.get(method)
        if method not in kind.methods:
            raise ValidationError(
                f"{kind.mime} cannot be stored in {method}; it allows {', '.join(kind.methods)}",
                field="storageMethod",
            )
        return Choice(method, f"{method} chosen by the caller")

    async def commit(
        self, batch: UploadBatch, *, method: Any, preference: Any, display_name: Any
    ) -> list[dict[str, Any]]:
        """See `UploadBatch.commit`."""
        method, preference = check_method(method), check_preference(preference)
        if not batch.staged:
            raise ValidationError("No file was sent", field="files")
        if display_name is not None and not isinstance(display_name, str):
            raise ValidationError("displayName must be a string", field="displayName")
        choices = [self._pick(s, method, preference, len(batch.staged)) for s in batch.staged]
        owner, total = batch.actor.user_id, batch.staged_bytes
        if not await repo.take(
            self.db,
            owner,
            files=len(batch.staged),
            size=total,
            max_files=batch.limits["maxFiles"],
            max_bytes=batch.limits["maxBytes"],
        ):
            batch.usage = await repo.usage(self.db, owner)
            raise batch._limit_error(len(batch.staged), total)
        docs: list[dict[str, Any]] = []
        try:
            for i, (staged, choice) in enumerate(zip(batch.staged, choices, strict=True)):
                docs.append(
                    await self._place(owner, staged, choice, _named(display_name, i, len(choices)))
                )
            await self.db.files.insert_many([dict(d) for d in docs])
        except BaseException:
            await asyncio.shield(self._undo(owner, docs, len(batch.staged), total))
            raise
        return [public_file(d) for d in docs]

    async def _place(
        self, owner: str, staged: Staged, choice: Choice, display: str | None
    ) -> dict[str, Any]:
        file_id, now = names.new_file_id(), self._clock()
        name = file_id + staged.type.extensions[0]
        shown = names.display_name(display) if display else staged.display_name
        location = await self.storage.get(choice.method).put(
            PutRequest(
                staged=staged.path,
                owner=owner,
                name=name,
                mime=staged.type.mime,
                size=staged.size,
                display_name=shown,
            )
        )
        return {
            "fileId": file_id,
            "userId": owner,
            "displayName": shown,
            "originalName": staged.original_name,
            "size": staged.size,
            "mimeType": staged.type.mime,
            "kind": staged.type.kind,
            "sha256": staged.sha256,
            "method": choice.method,
            "reason": choice.reason,
            "location": location,
            "geminiFile": location if choice.method == GOOGLE else None,
            "createdAt": now,
            "updatedAt": now,
        }

    async def _undo(self, owner: str, docs: list[dict[str, Any]], files: int, size: int) -> None:
        """Remove what a failed commit placed and give its usage back."""
        await self.purge(docs)
        await repo.give_back(self.db, owner, files=files, size=size)

    async def _owned(self, actor: Principal, file_id: Any) -> dict[str, Any]:
        fid = check_file_id(file_id)
        doc = await repo.find(self.db, fid)
        if doc is None or (doc["userId"] != actor.user_id and not actor.is_admin):
            raise NotFoundError(
                f"No file {fid!r}",
                field="fileId",
                suggestions=[LIST_FILES],
            )
        return doc

    async def show(self, *, actor: Principal, file_id: Any) -> dict[str, Any]:
        """One file's record.

        Raises:
            NotFoundError: unknown, or another user's.
        """
        return public_file(await self._owned(actor, file_id))

    async def list(
        self,
        *,
        actor: Principal,
        user_id: Any = None,
        mime_type: Any = None,
        method: Any = None,
        search: Any = None,
        page: Any = 1,
        page_size: Any = 20,
    ) -> dict[str, Any]:
        """A page of files, newest first: the actor's own; an admin's any user's (or all).

        Returns:
            {"files": [...], "total", "page", "pageSize"}

        Raises:
            PermissionDeniedError: a non-admin named another user.
            ValidationError: a bad filter or page.
        """
        query = self._scope(actor, user_id)
        for key, value, label in (
            ("mimeType", mime_type, "mimeType"),
            ("method", method, "method"),
        ):
            if value is not None:
                if not isinstance(value, str) or not value or len(value) > 100:
                    raise ValidationError(f"{label} must be a string", field=label)
                query[key] = {"$regex": "^" + _escape(value)} if value.endswith("/") else value
        if search is not None:
            if not isinstance(search, str) or len(search) > 100:
                raise ValidationError("search must be a string", field="search")
            query["displayName"] = {"$regex": _escape(search), "$options": "i"}
        page, size = _int(page, "page", 1, 10**6), _int(page_size, "pageSize", 1, MAX_PAGE_SIZE)
        items, total = await repo.page(self.db, query, skip=(page - 1) * size, limit=size)
        return {
            "files": [public_file(d) for d in items],
            "total": total,
            "page": page,
            "pageSize": size,
        }

    @staticmethod
    def _scope(actor: Principal, user_id: Any) -> dict[str, Any]:
        if user_id is not None and not isinstance(user_id, str):
            raise ValidationError("userId must be a string", field="userId")
        if actor.is_admin:
            return {"userId": user_id} if user_id else {}
        if user_id not in (None, "", actor.user_id):
            raise PermissionDeniedError("Only admins may list another user's files", field="userId")
        return {"userId": actor.user_id}

    async def delete(self, *, actor: Principal, file_id: Any) -> dict[str, Any]:
        """Delete a file: its stored object, its File API copy, then its record.

        An object or copy already gone is noted and the record still goes; a backend that
        fails otherwise raises and keeps the record (so the delete can be retried).

        Returns:
            {"fileId", "deleted": True, "notes": [str]}
        """
        doc = await self._owned(actor, file_id)
        notes = await self._remove_objects(doc)
        if await repo.delete(self.db, doc["fileId"]):
            await repo.give_back(self.db, doc["userId"], files=1, size=int(doc["size"]))
        return {
            "fileId": doc["fileId"],
            "displayName": doc["displayName"],
            "deleted": True,
            "notes": notes,
        }

    async def _remove_objects(self, doc: dict[str, Any]) -> builtins.list[str]:
        notes = []
        if not doc.get("method") or not doc.get("location"):
            return ["The record named no stored object"]
        if not await self.storage.get(doc["method"]).delete(doc["location"]):
            notes.append(f"The {doc['method']} object was already gone")
        remote = doc.get("geminiFile")
        if remote and doc["method"] != GOOGLE:
            if not await self.gemini.delete(remote):
                notes.append("The Gemini File API copy had already expired or been removed")
        return notes

    async def purge(self, docs: builtins.list[dict[str, Any]]) -> int:
        """Best-effort removal of the objects of these records (a deleted user's, or a failed
        upload's); failures are logged, never raised. Returns how many failed."""
        failed = 0
        for doc in docs:
            try:
                await self._remove_objects(doc)
            except Exception as exc:  # one unreachable backend must not stop the others
                failed += 1
                log.warning(
                    "could not remove the objects of %s (%s): %s",
                    doc.get("fileId"),
                    doc.get("method"),
                    exc,
                )
        for owner in {d["userId"] for d in docs}:
            await self.local.purge_owner(owner)
        return failed

    async def records_of(self, owner: str) -> builtins.list[dict[str, Any]]:
        """Every record of a user (read before deleting the user)."""
        return await repo.of_owner(self.db, owner)

    async def download(
        self, *, actor: Principal, file_id: Any, destination: Path
    ) -> dict[str, Any]:
        """Copy a stored file to `destination` (a new file).

        Raises:
            NotFoundError: unknown, another user's, or its object is gone.
            ValidationError: stored in the File API (which gives nothing back), or the
                destination exists.
        """
        doc = await self._owned(actor, file_id)
        reader = await self.storage.get(doc["method"], field="fileId").open(doc["location"])
        try:
            await asyncio.to_thread(_copy_new, reader, destination)
        finally:
            await asyncio.to_thread(reader.close)
        return {**public_file(doc), "savedTo": str(destination)}


def _copy_new(reader: Any, destination: Path) -> None:
    try:
        with open(destination, "xb") as out:
            shutil.copyfileobj(reader, out, 1 << 20)
    except FileExistsError:
        raise ValidationError(f"{destination} already exists", field="output") from None


def _named(display_name: str | None, index: int, count: int) -> str | None:
    if not display_name or not display_name.strip():
        return None
    return display_name if count == 1 else f"{display_name} ({index + 1})"


def _escape(text: str) -> str:
    import re

    return re.escape(text)


def _int(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(f"{field} must be a whole number from {low} to {high}", field=field)
    return value
