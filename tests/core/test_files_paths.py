"""Uploads of local paths (the CLI and the app): staged by a kernel copy, hashed from what was
stored, limits checked before a byte is copied, and pseudo-files read the ordinary way."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from apsara_core.core import Core
from apsara_core.errors import PayloadTooLargeError, ValidationError
from apsara_core.services.file_errors import FileLimitError
from apsara_core.storage.types import MB
from tests.core.files_helpers import records, stored_paths
from tests.factories import create_user, principal_of
from tests.file_samples import html, mp4, png


async def _user(core: Core, plan: str = "premium"):
    return principal_of(await create_user(core, f"paths-{plan}@example.com", plan=plan))


async def test_a_file_of_several_steps_is_stored_whole_and_hashed(
    core: Core, tmp_path: Path
) -> None:
    data = mp4() + os.urandom(19 * MB + 12345)  # three 8 MiB kernel-copy steps
    source = tmp_path / "clip.mp4"
    source.write_bytes(data)
    seen: list[int] = []
    actor = await _user(core)
    [rec] = await core.files.upload_paths(actor=actor, paths=[source], progress=seen.append)
    assert rec["size"] == len(data) and rec["mimeType"] == "video/mp4"
    assert rec["sha256"] == hashlib.sha256(data).hexdigest()
    assert sum(seen) == len(data) and len(seen) >= 3
    [stored] = stored_paths(core.settings.upload_dir)
    assert stored.read_bytes() == data and stored.name != "clip.mp4"


async def test_over_the_type_limit_is_refused_before_copying(core: Core, tmp_path: Path) -> None:
    source = tmp_path / "huge.png"
    with source.open("wb") as out:  # sparse: 30 MiB by its size, a few bytes on disk
        out.write(png())
        out.truncate(30 * MB)
    with pytest.raises(PayloadTooLargeError, match="20 MB limit of image/png") as err:
        await core.files.upload_paths(actor=await _user(core), paths=[source])
    assert err.value.field == "files[0]"
    assert stored_paths(core.settings.upload_dir) == [] and await records(core) == []


async def test_over_the_plans_bytes_is_refused_before_copying(core: Core, tmp_path: Path) -> None:
    source = tmp_path / "long.mp4"
    with source.open("wb") as out:
        out.write(mp4())
        out.truncate(101 * MB)  # the free plan allows 100 MB in all
    with pytest.raises(FileLimitError):
        await core.files.upload_paths(actor=await _user(core, "free"), paths=[source])
    assert stored_paths(core.settings.upload_dir) == [] and await records(core) == []


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("page.png", html(), "named as image/png but its content is text/html"),
        ("nothing.txt", b"", "is empty"),
    ],
)
async def test_bad_content_at_a_path_leaves_nothing(
    core: Core, tmp_path: Path, name: str, data: bytes, message: str
) -> None:
    source = tmp_path / name
    source.write_bytes(data)
    with pytest.raises(ValidationError, match=message):
        await core.files.upload_paths(actor=await _user(core), paths=[source])
    assert stored_paths(core.settings.upload_dir) == [] and await records(core) == []


async def test_a_directory_is_not_a_file(core: Core, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="is not a readable file") as err:
        await core.files.upload_paths(actor=await _user(core), paths=[tmp_path])
    assert err.value.field == "path"


async def test_a_pseudo_file_the_kernel_cannot_copy_is_read_whole(core: Core) -> None:
    # procfs reports size 0 and refuses copy_file_range to another file system
    [rec] = await core.files.upload_paths(actor=await _user(core), paths=[Path("/proc/cpuinfo")])
    [stored] = stored_paths(core.settings.upload_dir)
    content = stored.read_bytes()
    assert rec["mimeType"] == "text/plain" and rec["size"] == len(content) > 0
    assert rec["sha256"] == hashlib.sha256(content).hexdigest()
    assert b"processor" in content
