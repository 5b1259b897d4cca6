"""File endpoints: /api/files/upload (multipart, streamed), /api/files, /api/files/{id},
/api/files/supported-types.

An upload is read part by part straight into staging (see http/multipart.py): the per-type
size limit applies while reading, so limit + 1 byte answers 413 at once, the rest of the body
is never read (the connection is closed) and nothing is left behind. Fields: `files` (one or
many file parts), `storageMethod` (auto, local, s3, google-file-api), `preference` (speed,
processing, storage), `displayName`, and for admins `userId` (a field before the files, or
`?userId=`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from apsara_core.errors import ValidationError
from apsara_core.http.deps import acting_for, core_of, ok, require_actor
from apsara_core.http.multipart import MultipartReader
from apsara_core.http.openapi_files import DELETE_DOC, LIST_DOC, TYPES_DOC, UPLOAD_DOC, documented
from apsara_core.services.files import UploadBatch
from apsara_core.storage.auto import check_preference
from apsara_core.storage.base import check_method

FIELDS = ("storageMethod", "displayName", "preference", "userId")
DRAIN_BYTES = 1 << 20


class _Upload:
    """The state of one upload request while its parts are read."""

    def __init__(self, request: Request) -> None:
        self.request, self.fields = request, dict[str, str]()
        self.stream = request.stream()
        self.batch: UploadBatch | None = None
        self.actor: Any = None

    async def field(self, name: str, value: str) -> None:
        self.fields[name] = value
        if name == "storageMethod":  # refuse a bad or unconfigured method before any byte
            method = check_method(value or "auto")
            if method != "auto":
                core_of(self.request).files.storage.get(method)
        elif name == "preference":
            check_preference(value or None)
        elif name == "userId" and value and value != self.actor.user_id:
            if self.batch is not None and self.actor.is_admin:
                raise ValidationError("userId must come before the files", field="userId")
            self.actor = await acting_for(self.request, value)

    async def file(self, reader: MultipartReader, filename: str | None) -> None:
        if filename is None:
            raise ValidationError("files parts must be files (with a filename)", field="files")
        if self.batch is None:
            self.batch = await core_of(self.request).files.batch(actor=self.actor)
        await self.batch.add(filename, reader.data())

    async def run(self) -> list[dict[str, Any]]:
        self.actor = await acting_for(self.request, self.request.query_params.get("userId"))
        reader = MultipartReader(self.stream, self.request.headers.get("content-type", ""))
        while (part := await reader.next_part()) is not None:
            if part.name == "files":
                await self.file(reader, part.filename)
            elif part.name in FIELDS:
                await self.field(part.name, await reader.text(part.name))
            else:
                raise ValidationError(
                    f"Unknown field {part.name!r}; expected files, {', '.join(FIELDS)}",
                    field=part.name,
                )
        if self.batch is None:
            raise ValidationError("No file was sent: add one or more `files` parts", field="files")
        return await self.batch.commit(
            method=self.fields.get("storageMethod") or "auto",
            preference=self.fields.get("preference") or None,
            display_name=self.fields.get("displayName") or None,
        )


async def upload(request: Request) -> JSONResponse:
    """Upload files (multipart: files, storageMethod, displayName, preference)."""
    job = _Upload(request)
    try:
        stored = await job.run()
    except BaseException:
        if job.batch is not None:
            job.batch.discard()
        if not await _drained(job.stream):
            request.state.close_connection = True  # the rest of the body is never read
        raise
    return ok(
        201,
        files=stored,
        count=len(stored),
        message=f"Uploaded {len(stored)} file{'s' if len(stored) != 1 else ''}",
    )


async def _drained(stream: AsyncIterator[bytes], limit: int = DRAIN_BYTES) -> bool:
    """Read what is left of a refused body when it is small (so the connection can serve the
    next request); False when more than `limit` bytes remain or the client left."""
    seen = 0
    try:
        async for chunk in stream:
            seen += len(chunk)
            if seen > limit:
                return False
    except Exception:  # ClientDisconnect, or the stream already finished with an error
        return False
    return True


def _query_int(request: Request, name: str, default: int) -> Any:
    value = request.query_params.get(name)
    return default if value is None else value


async def list_files(request: Request) -> JSONResponse:
    """The caller's files, newest first (admins: anyone's, ?userId=)."""
    actor, q = await require_actor(request), request.query_params
    result = await core_of(request).files.list(
        actor=actor,
        user_id=q.get("userId"),
        mime_type=q.get("mimeType"),
        method=q.get("method"),
        search=q.get("search"),
        page=_query_int(request, "page", 1),
        page_size=_query_int(request, "pageSize", 20),
    )
    return ok(**result)


async def delete_file(request: Request) -> JSONResponse:
    """Delete a file: its stored object, its File API copy and its record."""
    actor = await require_actor(request)
    result = await core_of(request).files.delete(
        actor=actor, file_id=request.path_params["file_id"]
    )
    return ok(**result, message="File deleted")


async def supported_types(request: Request) -> JSONResponse:
    """Supported file types, their size limits and storage methods."""
    files = core_of(request).files
    methods = {m: files.storage.available(m) for m in ("local", "s3", "google-file-api")}
    return ok(
        types=files.types(), storageMethods=methods, preferences=["speed", "processing", "storage"]
    )


ROUTES = [
    Route("/files/upload", documented(upload, UPLOAD_DOC), methods=["POST"]),
    Route("/files/supported-types", documented(supported_types, TYPES_DOC), methods=["GET"]),
    Route("/files", documented(list_files, LIST_DOC), methods=["GET"]),
    Route("/files/{file_id}", documented(delete_file, DELETE_DOC), methods=["DELETE"]),
]
