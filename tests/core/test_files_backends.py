"""S3 (boto3 against moto_server) and the Gemini File API (the SDK against the fake)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from apsara_core.config import Settings
from apsara_core.core import Core
from apsara_core.models import Principal
from apsara_core.storage.types import MB
from tests.conftest import opened_core
from tests.core.files_helpers import records, stored_paths, upload
from tests.factories import create_user, principal_of
from tests.fakes.gemini_server import FakeGemini
from tests.fakes.s3 import BUCKET, keys, s3_client, s3_overrides
from tests.file_samples import SAMPLES, mp4, pdf, png, text


@pytest.fixture
async def s3_core(chat_settings: Settings, moto_endpoint: str) -> AsyncIterator[Core]:
    """A Core with S3 on moto_server and the File API on the fake Gemini."""
    async with opened_core(chat_settings.model_copy(update=s3_overrides(moto_endpoint))) as opened:
        yield opened


async def _user(core: Core, plan: str = "premium") -> Principal:
    return principal_of(await create_user(core, "s3@example.com", plan=plan))


async def test_s3_upload_and_delete(s3_core: Core, moto_endpoint: str) -> None:
    actor, prefix = await _user(s3_core), s3_core.settings.s3_prefix
    [rec] = await upload(s3_core, actor, ("a.png", png()), method="s3")
    key = f"{prefix}{actor.user_id}/{rec['fileId']}.png"
    assert rec["method"] == "s3" and rec["location"] == {"bucket": BUCKET, "key": key}
    assert keys(moto_endpoint, prefix) == [key]
    got = s3_client(moto_endpoint).get_object(Bucket=BUCKET, Key=key)
    assert got["Body"].read() == png() and got["ContentType"] == "image/png"
    assert stored_paths(s3_core.settings.upload_dir) == []  # the staging file went
    done = await s3_core.files.delete(actor=actor, file_id=rec["fileId"])
    assert (
        done["notes"] == [] and keys(moto_endpoint, prefix) == [] and await records(s3_core) == []
    )


async def test_large_s3_upload_is_multipart(s3_core: Core, moto_endpoint: str) -> None:
    actor = await _user(s3_core)
    data = mp4() + b"\x00" * (17 * MB)
    [rec] = await upload(s3_core, actor, ("big.mp4", data), method="s3")
    head = s3_client(moto_endpoint).head_object(Bucket=BUCKET, Key=rec["location"]["key"])
    assert head["ContentLength"] == len(data) and head["ETag"].strip('"').endswith("-3")


async def test_s3_delete_when_the_object_is_gone(s3_core: Core, moto_endpoint: str) -> None:
    actor = await _user(s3_core)
    [rec] = await upload(s3_core, actor, ("a.txt", text()), method="s3")
    s3_client(moto_endpoint).delete_object(Bucket=BUCKET, Key=rec["location"]["key"])
    done = await s3_core.files.delete(actor=actor, file_id=rec["fileId"])
    assert done["notes"] == ["The s3 object was already gone"] and await records(s3_core) == []


async def test_auto_with_s3_configured(s3_core: Core) -> None:
    actor = await _user(s3_core)
    [durable] = await upload(s3_core, actor, ("a.txt", text()), preference="storage")
    assert durable["method"] == "s3" and "permanent storage" in durable["reason"]
    [fast] = await upload(s3_core, actor, ("a.txt", text()), preference="speed")
    assert fast["method"] == "local"
    [big] = await upload(s3_core, actor, ("big.mp4", mp4() + b"\x00" * (101 * MB)))
    assert big["method"] == "s3" and "over 100 MB" in big["reason"]
    [ai] = await upload(
        s3_core, actor, ("doc.pdf", pdf() + b"\n" * (12 * MB)), preference="processing"
    )
    assert ai["method"] == "google-file-api"
    assert ai["reason"] == "12 MB PDF for immediate AI use: google-file-api"
    [gif] = await upload(s3_core, actor, ("a.gif", SAMPLES["anim.gif"][0]), preference="processing")
    assert gif["method"] == "s3" and "Gemini cannot read this type" in gif["reason"]


async def test_google_file_api_upload(s3_core: Core, fake_gemini: FakeGemini) -> None:
    actor = await _user(s3_core)
    [rec] = await upload(s3_core, actor, ("doc.pdf", pdf()), method="google-file-api")
    remote = rec["geminiFile"]
    assert rec["method"] == "google-file-api" and remote == rec["location"]
    assert remote["name"].startswith("files/") and remote["state"] == "ACTIVE"
    assert remote["uri"].endswith(remote["name"].removeprefix("files/"))
    left = remote["expiresAt"] - rec["createdAt"]
    assert timedelta(hours=47) < left <= timedelta(hours=48, seconds=5)
    stored = fake_gemini.state.files[remote["name"].removeprefix("files/")]
    assert stored.data == pdf() and stored.mime_type == "application/pdf"
    commands = [
        r["headers"].get("x-goog-upload-command")
        for r in fake_gemini.requests
        if r["path"].startswith("/upload/")
    ]
    assert commands == ["start", "upload, finalize"]  # the resumable protocol
    assert stored_paths(s3_core.settings.upload_dir) == []
    await s3_core.files.delete(actor=actor, file_id=rec["fileId"])
    assert fake_gemini.state.files == {}


async def test_google_delete_after_expiry_keeps_a_note(
    s3_core: Core, fake_gemini: FakeGemini
) -> None:
    actor = await _user(s3_core)
    [rec] = await upload(s3_core, actor, ("clip.mp4", mp4()), method="google-file-api")
    assert rec["geminiFile"]["state"] == "PROCESSING"  # video is processed after upload
    fake_gemini.expire(rec["geminiFile"]["name"])
    done = await s3_core.files.delete(actor=actor, file_id=rec["fileId"])
    assert done["notes"] == ["The google-file-api object was already gone"]
    assert await records(s3_core) == []


async def test_user_deletion_removes_objects_on_every_backend(
    s3_core: Core, fake_gemini: FakeGemini, moto_endpoint: str
) -> None:
    actor = await _user(s3_core)
    await upload(s3_core, actor, ("a.txt", text()), method="local")
    await upload(s3_core, actor, ("b.txt", text()), method="s3")
    await upload(s3_core, actor, ("c.txt", text()), method="google-file-api")
    result = await s3_core.users.delete(actor=Principal.operator(), user=actor.user_id)
    assert result["files"] == 3 and "filesNotRemoved" not in result
    assert stored_paths(s3_core.settings.upload_dir) == []
    assert keys(moto_endpoint, s3_core.settings.s3_prefix) == []
    assert fake_gemini.state.files == {}
