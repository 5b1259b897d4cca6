"""Uploads to local storage: records, generated names, type detection, hostile input, limits."""

from __future__ import annotations

import hashlib

import pytest

from apsara_core.core import Core
from apsara_core.errors import NotFoundError, PayloadTooLargeError, ValidationError
from apsara_core.services.file_errors import FileLimitError
from apsara_core.storage.base import StorageNotConfiguredError
from apsara_core.storage.types import MB, TYPES, detect
from tests.core.files_helpers import chunks_of, records, stored_paths, upload, usage
from tests.factories import create_user, principal_of
from tests.file_samples import SAMPLES, html, png, text


async def _user(core: Core, email: str = "files@example.com", plan: str = "free"):
    return principal_of(await create_user(core, email, plan=plan))


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_sample_is_detected_from_its_content(name: str) -> None:
    data, mime = SAMPLES[name]
    assert detect(data[:8192], name, "file").mime == mime


def test_every_table_type_has_a_sample() -> None:
    assert {t.mime for t in TYPES} == {mime for _, mime in SAMPLES.values()}


async def test_local_upload_stores_under_a_generated_name(core: Core) -> None:
    actor = await _user(core)
    data = png()
    [rec] = await upload(core, actor, ("holiday photo.png", data))
    assert rec["method"] == "local" and rec["mimeType"] == "image/png"
    assert rec["size"] == len(data) and rec["sha256"] == hashlib.sha256(data).hexdigest()
    assert rec["displayName"] == "holiday photo.png" and rec["reason"]
    root = core.settings.upload_dir
    [path] = stored_paths(root)
    assert path == root / actor.user_id / f"{rec['fileId']}.png"
    assert path.read_bytes() == data
    [doc] = await records(core)
    assert doc["fileId"] == rec["fileId"] and doc["userId"] == actor.user_id
    assert (await usage(core, actor.user_id)) == {
        "_id": actor.user_id,
        "files": 1,
        "bytes": len(data),
    }


async def test_many_files_in_one_request(core: Core) -> None:
    actor = await _user(core)
    recs = await upload(
        core,
        actor,
        ("a.png", png()),
        ("b.pdf", SAMPLES["doc.pdf"][0]),
        ("c.txt", text()),
        display_name="Batch",
    )
    assert [r["mimeType"] for r in recs] == ["image/png", "application/pdf", "text/plain"]
    assert [r["displayName"] for r in recs] == ["Batch (1)", "Batch (2)", "Batch (3)"]
    assert len(stored_paths(core.settings.upload_dir)) == 3


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd.txt",
        "a\x00.png.txt",
        "x" * 300 + ".txt",
        "..",
        "C:\\Windows\\system.ini.txt",
    ],
)
async def test_hostile_names_are_stored_under_generated_names(core: Core, name: str) -> None:
    actor = await _user(core)
    [rec] = await upload(core, actor, (name, text()))
    [path] = stored_paths(core.settings.upload_dir)
    assert path.parent == core.settings.upload_dir / actor.user_id
    assert path.name == f"{rec['fileId']}.txt"
    shown = rec["displayName"]
    assert "/" not in shown and "\\" not in shown and "\x00" not in shown and len(shown) <= 255
    assert "\x00" not in rec["originalName"] and len(rec["originalName"]) <= 1024


@pytest.mark.parametrize(
    "name,data,message",
    [
        ("empty.txt", b"", "empty"),
        ("page.png", html(), "named as image/png but its content is text/html"),
        ("notes.png", text(), "named as image/png but its content is text"),
        ("image.pdf", png(), "named as application/pdf but its content is image/png"),
        ("page.html", html(), "not a supported type"),
        ("blob.bin", b"\x00\x01\x02\x03" * 100, "not a supported type"),
    ],
)
async def test_bad_content_is_refused_and_leaves_nothing(
    core: Core, name: str, data: bytes, message: str
) -> None:
    actor = await _user(core)
    with pytest.raises(ValidationError) as err:
        await upload(core, actor, (name, data))
    assert message in err.value.message and err.value.field == "files[0]"
    assert stored_paths(core.settings.upload_dir) == [] and await records(core) == []


async def test_over_the_type_limit_is_refused_while_reading(core: Core) -> None:
    actor = await _user(core, plan="premium")
    limit = 10 * MB  # text/plain
    read = 0

    async def body():
        nonlocal read
        async for chunk in chunks_of(b"a" * (limit + 1), 1 << 20):
            read += len(chunk)
            yield chunk

    batch = await core.files.batch(actor=actor)
    with pytest.raises(PayloadTooLargeError) as err:
        await batch.add("big.txt", body())
    assert err.value.field == "files[0]" and "10 MB" in err.value.message
    assert stored_paths(core.settings.upload_dir) == [] and await records(core) == []
    [exact] = await upload(core, actor, ("exact.txt", b"a" * limit))
    assert exact["size"] == limit


async def test_too_many_files_in_one_request(core: Core) -> None:
    actor = await _user(core, plan="premium")
    with pytest.raises(ValidationError) as err:
        await upload(core, actor, *[(f"{i}.txt", text()) for i in range(11)])
    assert err.value.field == "files" and "At most 10" in err.value.message
    assert stored_paths(core.settings.upload_dir) == [] and await records(core) == []


async def test_unknown_method_and_unconfigured_s3(core: Core) -> None:
    actor = await _user(core)
    with pytest.raises(ValidationError) as err:
        await upload(core, actor, ("a.txt", text()), method="ftp")
    assert err.value.field == "storageMethod"
    with pytest.raises(StorageNotConfiguredError) as err2:
        await upload(core, actor, ("a.txt", text()), method="s3")
    assert "S3_BUCKET" in err2.value.message and err2.value.field == "storageMethod"
    with pytest.raises(StorageNotConfiguredError) as err3:
        await upload(core, actor, ("a.txt", text()), method="google-file-api")
    assert "GOOGLE_AI_API_KEY" in err3.value.message
    assert stored_paths(core.settings.upload_dir) == [] and await records(core) == []


async def test_auto_never_picks_unconfigured_s3(core: Core) -> None:
    actor = await _user(core)
    [rec] = await upload(core, actor, ("a.txt", text()), preference="storage")
    assert rec["method"] == "local" and "S3 not configured" in rec["reason"]
    recs = await upload(core, actor, *[(f"{i}.txt", text()) for i in range(6)])
    assert {r["method"] for r in recs} == {"local"} and "6 files at once" in recs[0]["reason"]
    [ai] = await upload(core, actor, ("a.pdf", SAMPLES["doc.pdf"][0]), preference="processing")
    assert ai["method"] == "local" and "no Gemini API key" in ai["reason"]


async def test_plan_file_count_limit(core: Core) -> None:
    actor = await _user(core)
    admin = principal_of(await create_user(core, "admin@example.com", role="admin"))
    await core.plans.set_file_limits(actor=admin, plan="free", max_files=2, max_bytes=MB)
    await upload(core, actor, ("a.txt", text()), ("b.txt", text()))
    with pytest.raises(FileLimitError) as err:
        await upload(core, actor, ("c.txt", text()))
    body = err.value.to_dict()
    assert body["code"] == "FILE_LIMIT_EXCEEDED" and body["usageInfo"]["files"] == 2
    assert "allows 2 files; you store 2 files" in err.value.message
    assert len(await records(core)) == 2 and len(stored_paths(core.settings.upload_dir)) == 2


async def test_plan_byte_limit_stops_the_stream(core: Core) -> None:
    actor = await _user(core)
    admin = principal_of(await create_user(core, "admin@example.com", role="admin"))
    await core.plans.set_file_limits(actor=admin, plan="free", max_files=10, max_bytes=1000)
    await upload(core, actor, ("a.txt", b"a" * 600))
    with pytest.raises(FileLimitError) as err:
        await upload(core, actor, ("b.txt", b"b" * 401))
    assert err.value.usage["bytes"] == 600 and err.value.usage["maxBytes"] == 1000
    [ok] = await upload(core, actor, ("c.txt", b"c" * 400))
    assert (await usage(core, actor.user_id))["bytes"] == 1000 and ok["size"] == 400


async def test_guests_store_no_files(core: Core) -> None:
    guest = principal_of(await create_user(core, "guest@example.com", role="guest", plan="guest"))
    with pytest.raises(FileLimitError) as err:
        await upload(core, guest, ("a.txt", text()))
    assert "guest plan allows 0 files" in err.value.message


async def test_a_failing_source_leaves_nothing(core: Core) -> None:
    actor = await _user(core)

    async def broken():
        yield png()[:20]
        yield b"\x00" * 9000
        raise ConnectionResetError("client went away")

    batch = await core.files.batch(actor=actor)
    with pytest.raises(ConnectionResetError):
        await batch.add("a.png", broken())
    batch.discard()
    assert stored_paths(core.settings.upload_dir) == [] and await records(core) == []


async def test_list_show_and_delete_are_owner_only(core: Core) -> None:
    alice, bob = await _user(core, "alice@example.com"), await _user(core, "bob@example.com")
    admin = principal_of(await create_user(core, "admin@example.com", role="admin"))
    [mine] = await upload(core, alice, ("a.txt", text()))
    await upload(core, bob, ("b.png", png()))
    listed = await core.files.list(actor=alice)
    assert [f["fileId"] for f in listed["files"]] == [mine["fileId"]] and listed["total"] == 1
    with pytest.raises(NotFoundError):
        await core.files.show(actor=bob, file_id=mine["fileId"])
    with pytest.raises(NotFoundError):
        await core.files.delete(actor=bob, file_id=mine["fileId"])
    with pytest.raises(NotFoundError) as unknown:
        await core.files.show(actor=bob, file_id="file_" + "0" * 24)
    assert unknown.value.field == "fileId"
    everyone = await core.files.list(actor=admin, page_size=1)
    assert everyone["total"] == 2 and len(everyone["files"]) == 1
    images = await core.files.list(actor=admin, mime_type="image/")
    assert [f["mimeType"] for f in images["files"]] == ["image/png"]
    assert (await core.files.list(actor=admin, user_id=alice.user_id))["total"] == 1
    done = await core.files.delete(actor=alice, file_id=mine["fileId"])
    assert done["deleted"] and done["notes"] == []
    assert len(stored_paths(core.settings.upload_dir)) == 1
    assert (await usage(core, alice.user_id))["files"] == 0


async def test_delete_when_the_object_is_already_gone(core: Core) -> None:
    actor = await _user(core)
    [rec] = await upload(core, actor, ("a.txt", text()))
    stored_paths(core.settings.upload_dir)[0].unlink()
    done = await core.files.delete(actor=actor, file_id=rec["fileId"])
    assert done["notes"] == ["The local object was already gone"] and await records(core) == []


async def test_deleting_a_user_deletes_their_objects(core: Core) -> None:
    from apsara_core.models import Principal

    actor = await _user(core)
    await upload(core, actor, ("a.txt", text()), ("b.png", png()))
    result = await core.users.delete(actor=Principal.operator(), user=actor.user_id)
    assert result["files"] == 2
    assert stored_paths(core.settings.upload_dir) == [] and await records(core) == []
    assert await usage(core, actor.user_id) is None
    assert not (core.settings.upload_dir / actor.user_id).exists()
