"""The Files API part of the fake Gemini: resumable upload, get, delete and list.

Uploads follow notes/gemini-wire.md: a start request answered with an upload URL, then
chunks, the last one finalizing. video/* files start PROCESSING and turn ACTIVE after two
GETs. `FakeGemini.expire(name)` removes a file as if its 48 hours had run out (403 after).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes import gemini_payloads as P


def file_routes(
    st: Any,
    record: Callable[..., Any],
    error: Callable[..., Response],
    _guard: Callable[[Request], Response | None],
    _base_url: Callable[[Request], str],
) -> list[Route]:
    """The upload and files routes over the fake's state."""

    async def upload(request: Request) -> Response:
        version = request.path_params["version"]
        body, ok = await record(request, None)
        upload_id = request.query_params.get("upload_id")
        if upload_id:  # chunks carry no API key
            return await upload_chunk(request, upload_id)
        if (denied := _guard(request)) is not None:
            return denied
        if not ok or not isinstance(body, dict):
            return error(400, "Invalid upload start request.")
        meta = P.pick(body, "file") or {}
        name = P.pick(meta, "name") or ""
        file_id = name.removeprefix("files/") or uuid.uuid4().hex[:16]
        if not re.fullmatch(r"[a-z0-9]{1,40}", file_id):
            return error(400, f"Invalid file name {name!r}: use lowercase alphanumerics.")
        with st.lock:
            if file_id in st.files:
                return error(409, f"File files/{file_id} already exists.", "ALREADY_EXISTS")
        hdr = request.headers
        pending = P.PendingUpload(
            file_id=file_id,
            display_name=P.pick(meta, "displayName"),
            mime_type=hdr.get("x-goog-upload-header-content-type")
            or P.pick(meta, "mimeType")
            or "application/octet-stream",
            size=P.to_int(
                hdr.get("x-goog-upload-header-content-length") or P.pick(meta, "sizeBytes")
            ),
        )
        uid = uuid.uuid4().hex
        with st.lock:
            st.uploads[uid] = pending
        url = (
            f"{_base_url(request)}/upload/{version}/files?upload_id={uid}&upload_protocol=resumable"
        )
        return JSONResponse(
            {},
            headers={
                "X-Goog-Upload-URL": url,
                "X-Goog-Upload-Status": "active",
                "X-Goog-Upload-Chunk-Granularity": "8388608",
            },
        )

    async def upload_chunk(request: Request, upload_id: str) -> Response:
        command = request.headers.get("x-goog-upload-command", "")
        offset = P.to_int(request.headers.get("x-goog-upload-offset"))
        data = await request.body()
        with st.lock:
            pending = st.uploads.get(upload_id)
        if pending is None:
            return error(
                404, "Upload session not found.", headers={"X-Goog-Upload-Status": "final"}
            )
        if offset != len(pending.data):
            return error(
                400,
                f"Offset {offset} does not match {len(pending.data)} bytes received.",
                headers={"X-Goog-Upload-Status": "active"},
            )
        pending.data += data
        if "finalize" not in command:
            return Response(
                status_code=200,
                headers={
                    "X-Goog-Upload-Status": "active",
                    "X-Goog-Upload-Size-Received": str(len(pending.data)),
                },
            )
        stored = pending.finish()
        with st.lock:
            st.uploads.pop(upload_id, None)
            st.files[stored.file_id] = stored
        return JSONResponse(
            {"file": stored.resource(_base_url(request))}, headers={"X-Goog-Upload-Status": "final"}
        )

    async def file_item(request: Request) -> Response:
        await record(request, None)
        file_id = request.path_params["file_id"]
        if (denied := _guard(request)) is not None:
            return denied
        with st.lock:
            f = st.files.get(file_id)
            if f is not None and request.method == "DELETE":
                del st.files[file_id]
            elif f is not None:
                f.gets += 1
                if f.state == "PROCESSING" and f.gets > 2:
                    f.state = "ACTIVE"
        if f is None:
            return error(403, P.no_file_message(file_id))
        if request.method == "DELETE":
            return JSONResponse({})
        return JSONResponse(f.resource(_base_url(request)))

    async def file_list(request: Request) -> Response:
        await record(request, None)
        if (denied := _guard(request)) is not None:
            return denied
        size = min(max(P.to_int(request.query_params.get("pageSize"), 10), 1), 100)
        start = P.to_int(request.query_params.get("pageToken"), 0)
        with st.lock:
            files = list(st.files.values())
        page = files[start : start + size]
        result: dict[str, Any] = {"files": [f.resource(_base_url(request)) for f in page]}
        if start + size < len(files):
            result["nextPageToken"] = str(start + size)
        return JSONResponse(result)

    return [
        Route("/upload/{version}/files", upload, methods=["POST"]),
        Route("/{version}/files", file_list, methods=["GET"]),
        Route("/{version}/files/{file_id}", file_item, methods=["GET", "DELETE"]),
    ]
