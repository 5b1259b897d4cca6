"""/api/files: multipart upload streamed to storage, list, delete, supported types, OpenAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from apsara_core.core import Core
from apsara_core.http.app import create_app
from apsara_core.models import Principal
from apsara_core.storage.types import MB
from tests.core.files_helpers import records, stored_paths
from tests.factories import STRONG_PASSWORD, registered_user
from tests.file_samples import html, pdf, png, text

BOUNDARY = "apsaraboundary1234"


async def signed_in(
    core: Core, email: str = "ann@example.com", plan: str = "premium"
) -> dict[str, str]:
    user = await registered_user(core, email)
    await core.db.users.update_one({"_id": user["_id"]}, {"$set": {"subscriptionPlan": plan}})
    session = await core.auth.login(email=email, password=STRONG_PASSWORD)
    return {"Authorization": f"Bearer {session.token}"}


def multipart(files: list[tuple[str, bytes]], **fields: str) -> bytes:
    """A multipart/form-data body: `files` parts, then the fields."""
    out = b""
    for name, data in files:
        out += (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; '
            f'filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        out += data + b"\r\n"
    for key, value in fields.items():
        out += (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'
        ).encode()
    return out + f"--{BOUNDARY}--\r\n".encode()


CT = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


async def post_files(http: httpx.AsyncClient, auth: dict[str, str], body: bytes) -> httpx.Response:
    return await http.post("/api/files/upload", content=body, headers={**auth, **CT})


async def nothing_left(core: Core) -> None:
    assert stored_paths(core.settings.upload_dir) == [] and await records(core) == []


async def test_upload_list_delete(core: Core, http: httpx.AsyncClient) -> None:
    auth = await signed_in(core)
    resp = await post_files(
        http,
        auth,
        multipart(
            [("My Image.png", png()), ("doc.pdf", pdf())], storageMethod="local", displayName="Mine"
        ),
    )
    assert resp.status_code == 201, resp.text
    files = resp.json()["files"]
    assert [f["mimeType"] for f in files] == ["image/png", "application/pdf"]
    assert [f["displayName"] for f in files] == ["Mine (1)", "Mine (2)"]
    assert all(f["method"] == "local" and f["reason"] for f in files)
    listed = (await http.get("/api/files", headers=auth)).json()
    assert listed["total"] == 2 and {f["fileId"] for f in listed["files"]} == {
        f["fileId"] for f in files
    }
    one = (await http.get("/api/files?pageSize=1&mimeType=image/", headers=auth)).json()
    assert [f["mimeType"] for f in one["files"]] == ["image/png"]
    gone = await http.delete(f"/api/files/{files[0]['fileId']}", headers=auth)
    assert gone.status_code == 200 and gone.json()["deleted"] is True
    assert len(await records(core)) == 1


async def test_curl_style_fields_after_files_and_auto(core: Core, http: httpx.AsyncClient) -> None:
    auth = await signed_in(core)
    resp = await post_files(http, auth, multipart([("notes.txt", text())], preference="speed"))
    assert resp.status_code == 201
    [rec] = resp.json()["files"]
    assert rec["method"] == "local" and "fastest" in rec["reason"]


@pytest.mark.parametrize(
    "files,fields,status,field,message",
    [
        ([("empty.txt", b"")], {}, 400, "files[0]", "empty"),
        ([("page.png", html())], {}, 400, "files[0]", "content is text/html"),
        ([("a.txt", text())], {"storageMethod": "ftp"}, 400, "storageMethod", "must be one of"),
        ([("a.txt", text())], {"storageMethod": "s3"}, 400, "storageMethod", "S3_BUCKET"),
        ([(f"{i}.txt", text()) for i in range(11)], {}, 400, "files", "At most 10"),
        ([], {"storageMethod": "local"}, 400, "files", "No file"),
        ([("a.txt", text())], {"colour": "red"}, 400, "colour", "Unknown field"),
    ],
)
async def test_bad_uploads(
    core: Core,
    http: httpx.AsyncClient,
    files: list[tuple[str, bytes]],
    fields: dict[str, str],
    status: int,
    field: str,
    message: str,
) -> None:
    auth = await signed_in(core)
    resp = await post_files(http, auth, multipart(files, **fields))
    body = resp.json()
    assert resp.status_code == status, body
    assert body["field"] == field and message in body["details"]
    await nothing_left(core)


async def test_method_before_the_files_is_checked_before_any_byte(
    core: Core, http: httpx.AsyncClient
) -> None:
    auth = await signed_in(core)
    body = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="storageMethod"\r\n\r\ns3\r\n'
    ).encode() + multipart([("a.txt", text())])
    resp = await post_files(http, auth, body)
    assert resp.status_code == 400 and resp.json()["field"] == "storageMethod"
    await nothing_left(core)


async def test_hostile_names_are_stored_safely(core: Core, http: httpx.AsyncClient) -> None:
    auth = await signed_in(core)
    for name in ("../../etc/passwd", "a\x00.png.txt", "n" * 300 + ".txt"):
        resp = await post_files(http, auth, multipart([(name, text())]))
        assert resp.status_code == 201, resp.text
        [rec] = resp.json()["files"]
        assert "/" not in rec["displayName"] and len(rec["displayName"]) <= 255
    root = core.settings.upload_dir
    for path in stored_paths(root):
        assert path.resolve().is_relative_to(root.resolve()) and path.name.startswith("file_")
    assert not Path("/etc/passwd.txt").exists()


async def _chunks(body: bytes, size: int = 256 * 1024) -> AsyncIterator[bytes]:
    for i in range(0, len(body), size):
        yield body[i : i + size]


async def test_limit_plus_one_byte_is_413_while_reading(
    core: Core, http: httpx.AsyncClient
) -> None:
    auth = await signed_in(core)
    limit = 10 * MB  # text/plain
    body = multipart([("big.txt", b"a" * (limit + 1)), ("next.txt", b"b" * (2 * MB))])
    for send in (lambda b: b, _chunks):
        over = await http.post("/api/files/upload", headers={**auth, **CT}, content=send(body))
        assert over.status_code == 413, over.text
        assert over.json()["field"] == "files[0]"
        await nothing_left(core)
    streamed = await http.post("/api/files/upload", headers={**auth, **CT}, content=_chunks(body))
    assert streamed.headers["connection"] == "close"  # the 2 MiB after it were never read
    at = await post_files(http, auth, multipart([("big.txt", b"a" * limit)]))
    assert at.status_code == 201 and at.json()["files"][0]["size"] == limit


async def test_a_disconnect_mid_upload_leaves_nothing(core: Core) -> None:
    auth = await signed_in(core)
    body = multipart([("big.txt", b"a" * (3 * MB))])
    app = create_app(core)
    sent: list[dict[str, Any]] = []
    pieces = [body[:MB], body[MB : 2 * MB]]

    async def receive() -> dict[str, Any]:
        if pieces:
            return {"type": "http.request", "body": pieces.pop(0), "more_body": True}
        return {"type": "http.disconnect"}  # the client went away mid-body

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [(k.lower().encode(), v.encode()) for k, v in {**auth, **CT}.items()]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/files/upload",
        "raw_path": b"/api/files/upload",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("apsara.test", 80),
    }
    async with app.router.lifespan_context(app):
        await app(scope, receive, send)
    await nothing_left(core)


async def test_another_users_file_is_404(core: Core, http: httpx.AsyncClient) -> None:
    ann, bob = await signed_in(core), await signed_in(core, "bob@example.com")
    [rec] = (await post_files(http, ann, multipart([("a.txt", text())]))).json()["files"]
    for fid in (rec["fileId"], "file_" + "0" * 24, "nonsense"):
        resp = await http.delete(f"/api/files/{fid}", headers=bob)
        assert resp.status_code == 404 and resp.json()["code"] == "NOT_FOUND"
    assert (await http.get("/api/files", headers=bob)).json()["total"] == 0
    refused = await http.get(f"/api/files?userId={rec['userId']}", headers=bob)
    assert refused.status_code == 403
    assert len(await records(core)) == 1


async def test_file_limit_is_403_with_usage(core: Core, http: httpx.AsyncClient) -> None:
    auth = await signed_in(core, plan="free")
    await core.plans.set_file_limits(
        actor=Principal.operator(), plan="free", max_files=1, max_bytes=MB
    )
    assert (await post_files(http, auth, multipart([("a.txt", text())]))).status_code == 201
    resp = await post_files(http, auth, multipart([("b.txt", text())]))
    assert resp.status_code == 403 and resp.json()["code"] == "FILE_LIMIT_EXCEEDED"
    assert resp.json()["usageInfo"]["files"] == 1 and resp.json()["usageInfo"]["maxFiles"] == 1


async def test_supported_types_and_openapi(core: Core, http: httpx.AsyncClient) -> None:
    types = (await http.get("/api/files/supported-types")).json()
    assert {"image/png", "application/pdf", "video/mp4"} <= {t["mimeType"] for t in types["types"]}
    assert types["storageMethods"] == {"local": True, "s3": False, "google-file-api": False}
    doc = (await http.get("/api/openapi.json")).json()
    upload = doc["paths"]["/api/files/upload"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert {"201", "400", "413"} <= set(upload["responses"])
    assert "200" in doc["paths"]["/api/files"]["get"]["responses"]
    assert "404" in doc["paths"]["/api/files/{file_id}"]["delete"]["responses"]
    assert "200" in doc["paths"]["/api/files/supported-types"]["get"]["responses"]


async def test_generate_with_a_stored_file(
    chat_core: Core, api: httpx.AsyncClient, fake_gemini
) -> None:
    ann, bob = await signed_in(chat_core), await signed_in(chat_core, "bob@example.com")
    [rec] = (await post_files(api, ann, multipart([("a.png", png())]))).json()["files"]
    cid = (await api.post("/api/conversations", headers=ann, json={"title": "T"})).json()[
        "conversationId"
    ]
    body = {"conversationId": cid, "contents": "describe", "files": [rec["fileId"], "gs://b/x.pdf"]}
    resp = await api.post("/api/ai/generate", headers=ann, json=body)
    assert resp.status_code == 200, resp.text
    assert resp.json()["modelMetadata"]["filesProcessed"] == 2
    assert resp.json()["modelMetadata"]["autoUploads"] == 1
    bob_cid = (await api.post("/api/conversations", headers=bob, json={"title": "T"})).json()[
        "conversationId"
    ]
    foreign = await api.post(
        "/api/ai/generate", headers=bob, json={**body, "conversationId": bob_cid}
    )
    unknown = await api.post(
        "/api/ai/generate",
        headers=bob,
        json={**body, "conversationId": bob_cid, "files": ["file_" + "0" * 24]},
    )
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json()["field"] == unknown.json()["field"] == "files[0]"
