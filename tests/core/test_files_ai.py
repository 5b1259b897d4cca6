"""Stored files in model calls: auto-upload to the File API (from local disk and from S3),
reuse of the copy, PROCESSING polled to ACTIVE, expiry and re-upload, ownership."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from apsara_core.clock import wall_clock as utcnow
from apsara_core.config import Settings
from apsara_core.core import Core
from apsara_core.errors import NotFoundError
from apsara_core.services.file_errors import FileExpiredError
from tests.conftest import opened_core
from tests.core.chat_helpers import new_conv, premium, stored
from tests.core.files_helpers import upload
from tests.fakes.gemini_server import FakeGemini
from tests.fakes.s3 import s3_overrides
from tests.file_samples import mp4, pdf, png


@pytest.fixture
async def ai_core(chat_settings: Settings, moto_endpoint: str) -> AsyncIterator[Core]:
    async with opened_core(chat_settings.model_copy(update=s3_overrides(moto_endpoint))) as opened:
        yield opened


def sent_uris(fake: FakeGemini) -> list[list[str]]:
    """The fileData uris of each generate call the fake received."""
    calls = []
    for r in fake.requests:
        if r["model"] and "Generate" in r["path"]:
            parts = [p for c in r["body"]["contents"] for p in c.get("parts", [])]
            calls.append(
                [
                    (p.get("fileData") or p.get("file_data") or {}).get("fileUri")
                    or (p.get("fileData") or p.get("file_data") or {}).get("file_uri")
                    for p in parts
                    if p.get("fileData") or p.get("file_data")
                ]
            )
    return calls


async def send(
    core: Core, actor: Any, cid: str, files: list[str], text: str = "what is it?"
) -> dict[str, Any]:
    return await core.chat.generate(actor=actor, conversation_id=cid, text=text, files=files)


async def test_a_local_file_is_uploaded_on_first_use_then_reused(
    ai_core: Core, fake_gemini: FakeGemini
) -> None:
    actor = await premium(ai_core)
    cid = await new_conv(ai_core, actor)
    [rec] = await upload(ai_core, actor, ("a.png", png()), method="local")
    first = await send(ai_core, actor, cid, [rec["fileId"], "gs://bucket/direct.pdf"])
    meta = first["modelMetadata"]
    assert meta["filesProcessed"] == 2 and meta["autoUploads"] == 1
    remote = (await ai_core.db.files.find_one({"fileId": rec["fileId"]}))["geminiFile"]
    assert fake_gemini.state.files[remote["name"].removeprefix("files/")].data == png()
    assert sent_uris(fake_gemini)[-1] == [remote["uri"], "gs://bucket/direct.pdf"]
    second = await send(ai_core, actor, cid, [rec["fileId"]])
    assert second["modelMetadata"]["autoUploads"] == 0 and len(fake_gemini.state.files) == 1
    assert sent_uris(fake_gemini)[-1] == [remote["uri"], "gs://bucket/direct.pdf", remote["uri"]]
    [user_msg, *_] = await stored(ai_core, cid)
    assert user_msg["files"][0] == {
        "fileId": rec["fileId"],
        "mimeType": "image/png",
        "displayName": "a.png",
    }


async def test_an_s3_file_goes_to_the_file_api_from_the_bucket(
    ai_core: Core, fake_gemini: FakeGemini
) -> None:
    actor = await premium(ai_core)
    cid = await new_conv(ai_core, actor)
    [rec] = await upload(ai_core, actor, ("doc.pdf", pdf()), method="s3")
    result = await send(ai_core, actor, cid, [rec["fileId"]])
    assert result["modelMetadata"]["autoUploads"] == 1
    [copy] = fake_gemini.state.files.values()
    assert copy.data == pdf() and copy.mime_type == "application/pdf"


async def test_a_file_api_video_is_polled_until_active(
    ai_core: Core, fake_gemini: FakeGemini
) -> None:
    actor = await premium(ai_core)
    cid = await new_conv(ai_core, actor)
    [rec] = await upload(ai_core, actor, ("clip.mp4", mp4()), method="google-file-api")
    assert rec["geminiFile"]["state"] == "PROCESSING"
    result = await send(ai_core, actor, cid, [rec["fileId"]])
    assert result["success"] and result["modelMetadata"]["autoUploads"] == 0
    doc = await ai_core.db.files.find_one({"fileId": rec["fileId"]})
    assert doc["geminiFile"]["state"] == "ACTIVE"
    gets = [r for r in fake_gemini.requests if r["method"] == "GET" and "/files/" in r["path"]]
    assert len(gets) == 3  # ACTIVE on the third look


async def test_an_expired_copy_is_uploaded_again_once(
    ai_core: Core, fake_gemini: FakeGemini
) -> None:
    actor = await premium(ai_core)
    cid = await new_conv(ai_core, actor)
    [rec] = await upload(ai_core, actor, ("a.png", png()), method="local")
    await send(ai_core, actor, cid, [rec["fileId"]])
    old = (await ai_core.db.files.find_one({"fileId": rec["fileId"]}))["geminiFile"]
    fake_gemini.expire(old["name"])
    before = len(sent_uris(fake_gemini))
    result = await send(ai_core, actor, cid, [rec["fileId"]], text="and now?")
    assert result["success"] and result["modelMetadata"]["autoUploads"] == 1
    new = (await ai_core.db.files.find_one({"fileId": rec["fileId"]}))["geminiFile"]
    assert new["name"] != old["name"] and list(fake_gemini.state.files) == [new["name"][6:]]
    assert len(sent_uris(fake_gemini)) - before == 2  # refused once (403), then retried
    assert sent_uris(fake_gemini)[-1] == [new["uri"], new["uri"]]


async def test_a_copy_near_its_expiry_is_replaced_before_use(
    ai_core: Core, fake_gemini: FakeGemini
) -> None:
    actor = await premium(ai_core)
    cid = await new_conv(ai_core, actor)
    [rec] = await upload(ai_core, actor, ("a.png", png()), method="local")
    await send(ai_core, actor, cid, [rec["fileId"]])
    await ai_core.db.files.update_one(
        {"fileId": rec["fileId"]},
        {"$set": {"geminiFile.expiresAt": utcnow() + timedelta(minutes=30)}},
    )
    result = await send(ai_core, actor, cid, [rec["fileId"]])
    assert result["modelMetadata"]["autoUploads"] == 1 and len(fake_gemini.state.files) == 2


async def test_an_expired_file_api_only_file_is_a_clear_error(
    ai_core: Core, fake_gemini: FakeGemini
) -> None:
    actor = await premium(ai_core)
    cid = await new_conv(ai_core, actor)
    [rec] = await upload(ai_core, actor, ("doc.pdf", pdf()), method="google-file-api")
    fake_gemini.expire(rec["geminiFile"]["name"])
    with pytest.raises(FileExpiredError) as err:
        await send(ai_core, actor, cid, [rec["fileId"]])
    assert err.value.http_status == 404 and "48 hours" in err.value.message
    await ai_core.db.files.update_one(
        {"fileId": rec["fileId"]},
        {"$set": {"geminiFile.expiresAt": utcnow() - timedelta(minutes=1)}},
    )
    with pytest.raises(FileExpiredError):
        await send(ai_core, actor, cid, [rec["fileId"]])


async def test_another_users_file_is_not_found_and_nothing_is_stored(ai_core: Core) -> None:
    alice = await premium(ai_core, "alice@example.com")
    bob = await premium(ai_core, "bob@example.com")
    [rec] = await upload(ai_core, alice, ("a.png", png()))
    cid = await new_conv(ai_core, bob)
    for fid in (rec["fileId"], "file_" + "0" * 24):
        with pytest.raises(NotFoundError) as err:
            await send(ai_core, bob, cid, [fid])
        assert err.value.field == "files[0]" and err.value.http_status == 404
    assert await stored(ai_core, cid) == []


async def test_edit_and_regenerate_take_files(ai_core: Core, fake_gemini: FakeGemini) -> None:
    actor = await premium(ai_core)
    cid = await new_conv(ai_core, actor)
    [a] = await upload(ai_core, actor, ("a.png", png()))
    [b] = await upload(ai_core, actor, ("doc.pdf", pdf()))
    first = await send(ai_core, actor, cid, [a["fileId"]])
    edited = await ai_core.chat.edit(
        actor=actor,
        conversation_id=cid,
        message_id=first["userMessageId"],
        new_text="this one",
        files=[b["fileId"]],
    )
    assert (
        edited["modelMetadata"]["filesProcessed"] == 1
        and edited["modelMetadata"]["autoUploads"] == 1
    )
    regen = await ai_core.chat.regenerate(actor=actor, conversation_id=cid, files=[a["fileId"]])
    assert regen["success"] and regen["branchId"]
    [prompt, _reply] = await stored(ai_core, cid)
    assert [f["fileId"] for f in prompt["files"]] == [a["fileId"]]
    assert prompt["content"]["text"] == "this one"
