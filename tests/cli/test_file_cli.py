"""`apsara file ...`: upload, list, show, delete, download, types; progress only on a terminal."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

from tests.factories import create_user
from tests.fakes.s3 import keys, s3_env
from tests.file_samples import html, pdf, png, text


def ok(result):
    assert result.returncode == 0, result.stderr
    return result


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


async def test_upload_list_show_download_delete(core, cli, tmp_path: Path) -> None:
    await create_user(core, "ann@example.com", plan="premium")
    a, b = write(tmp_path, "a.png", png()), write(tmp_path, "notes.txt", text())
    out = ok(cli("file", "upload", str(a), str(b), "--user", "ann@example.com", "--json"))
    stored = json.loads(out.stdout)
    assert [r["mimeType"] for r in stored] == ["image/png", "text/plain"]
    for rec in stored:
        assert {"fileId", "method", "reason", "mimeType", "size", "displayName"} <= set(rec)
        assert rec["method"] == "local"
    assert "uploading" not in out.stdout + out.stderr  # no progress bar when piped
    listed = json.loads(ok(cli("file", "list", "--user", "ann@example.com", "--json")).stdout)
    assert sorted(r["fileId"] for r in listed) == sorted(r["fileId"] for r in stored)
    assert set(listed[0]) == set(stored[0])
    shown = ok(cli("file", "show", stored[0]["fileId"])).stdout
    assert "a.png" in shown and "sha256" in shown
    saved = tmp_path / "copy.png"
    ok(cli("file", "download", stored[0]["fileId"], "--output", str(saved)))
    assert saved.read_bytes() == png()
    again = cli("file", "download", stored[0]["fileId"], "--output", str(saved))
    assert again.returncode == 1 and "already exists" in again.stderr
    gone = json.loads(ok(cli("file", "delete", stored[0]["fileId"], "--yes", "--json")).stdout)
    assert gone["deleted"] and gone["notes"] == []
    assert await core.db.files.count_documents({}) == 1


async def test_bad_uploads_name_the_problem(core, cli, tmp_path: Path) -> None:
    await create_user(core, "ann@example.com")
    fake = write(tmp_path, "page.png", html())
    res = cli("file", "upload", str(fake), "--user", "ann@example.com")
    assert res.returncode == 1 and "named as image/png but its content is text/html" in res.stderr
    empty = write(tmp_path, "empty.txt", b"")
    res = cli("file", "upload", str(empty), "--user", "ann@example.com", "--json")
    assert res.returncode == 1 and "is empty" in res.stderr
    res = cli(
        "file",
        "upload",
        str(write(tmp_path, "a.txt", text())),
        "--method",
        "s3",
        "--user",
        "ann@example.com",
    )
    assert res.returncode == 1 and "S3_BUCKET" in res.stderr
    res = cli(
        "file", "upload", str(tmp_path / "a.txt"), "--method", "ftp", "--user", "ann@example.com"
    )
    assert res.returncode == 1 and "storageMethod must be one of" in res.stderr
    res = cli("file", "upload", str(tmp_path / "a.txt"))
    assert res.returncode == 1 and "--user" in res.stderr
    assert await core.db.files.count_documents({}) == 0
    assert not any(p.is_file() for p in (tmp_path / "uploads").rglob("*"))


async def test_another_users_file_is_not_found(core, cli, tmp_path: Path) -> None:
    await create_user(core, "ann@example.com")
    await create_user(core, "bob@example.com")
    path = write(tmp_path, "a.txt", text())
    [rec] = json.loads(
        ok(cli("file", "upload", str(path), "--user", "ann@example.com", "--json")).stdout
    )
    for command in (("show", rec["fileId"]), ("delete", rec["fileId"], "--yes")):
        res = cli("file", *command, "--user", "bob@example.com")
        assert res.returncode == 1 and "No file" in res.stderr
    assert json.loads(ok(cli("file", "list", "--user", "bob@example.com", "--json")).stdout) == []
    everyone = json.loads(ok(cli("file", "list", "--all", "--json")).stdout)
    assert [r["fileId"] for r in everyone] == [rec["fileId"]]


async def test_types_table(cli) -> None:
    rows = json.loads(ok(cli("file", "types", "--json")).stdout)
    png_row = next(r for r in rows if r["mimeType"] == "image/png")
    assert png_row["maxBytes"] == 20 * 1024 * 1024 and "google-file-api" in png_row["methods"]
    assert "image/gif" in ok(cli("file", "types")).stdout


async def test_s3_upload_from_the_command_line(
    core, cli, tmp_path: Path, moto_endpoint: str
) -> None:
    await create_user(core, "ann@example.com", plan="premium")
    env = s3_env(moto_endpoint)
    path = write(tmp_path, "doc.pdf", pdf())
    [rec] = json.loads(
        ok(
            cli(
                "file",
                "upload",
                str(path),
                "--method",
                "s3",
                "--user",
                "ann@example.com",
                "--json",
                **env,
            )
        ).stdout
    )
    assert rec["method"] == "s3" and keys(moto_endpoint, env["S3_PREFIX"]) == [
        rec["location"]["key"]
    ]
    [auto] = json.loads(
        ok(
            cli(
                "file",
                "upload",
                str(path),
                "--prefer",
                "storage",
                "--user",
                "ann@example.com",
                "--json",
                **env,
            )
        ).stdout
    )
    assert auto["method"] == "s3" and "permanent storage" in auto["reason"]


async def test_progress_bar_on_a_terminal(core, cli, tmp_path: Path) -> None:
    await create_user(core, "ann@example.com", plan="premium")
    path = write(tmp_path, "big.txt", b"line of text\n" * 400_000)
    leader, follower = pty.openpty()
    env = {**cli.env, "COLUMNS": "100", "TERM": "xterm"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "apsara_tui",
            "file",
            "upload",
            str(path),
            "--user",
            "ann@example.com",
        ],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        cwd=tmp_path,
    )
    os.close(follower)
    output = b""
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        output += data
    assert proc.wait(60) == 0, output.decode(errors="replace")
    os.close(leader)
    shown = output.decode(errors="replace")
    assert "uploading" in shown and "stored file_" in shown


async def test_ai_send_with_a_stored_file_and_analysis(
    core, cli, tmp_path: Path, fake_gemini
) -> None:
    from tests.fakes.fixtures import gemini_env

    await create_user(core, "ann@example.com", plan="premium")
    env = gemini_env(fake_gemini)
    path = write(tmp_path, "doc.pdf", pdf())
    [rec] = json.loads(
        ok(cli("file", "upload", str(path), "--user", "ann@example.com", "--json", **env)).stdout
    )
    conv = json.loads(
        ok(cli("conv", "create", "--user", "ann@example.com", "--title", "T", "--json")).stdout
    )
    sent = json.loads(
        ok(
            cli(
                "ai",
                "send",
                "--conversation",
                conv["conversationId"],
                "--file",
                rec["fileId"],
                "--json",
                "what is it?",
                **env,
            )
        ).stdout
    )
    assert (
        sent["modelMetadata"]["filesProcessed"] == 1 and sent["modelMetadata"]["autoUploads"] == 1
    )
    [analyzed] = json.loads(
        ok(
            cli(
                "file",
                "upload",
                str(path),
                "--analyze",
                "ask",
                "--question",
                "Who wrote it?",
                "--user",
                "ann@example.com",
                "--json",
                **env,
            )
        ).stdout
    )
    answer = analyzed["analysis"]
    assert "Echo: Who wrote it?" in answer["text"] and answer["modelMetadata"]["autoUploads"] == 1
    follow = ok(cli("ai", "send", "--conversation", answer["conversationId"], "and then?", **env))
    assert "Echo: and then? (turns=3)" in follow.stdout  # the analysis conversation goes on
    shown = ok(
        cli(
            "file", "upload", str(path), "--analyze", "describe", "--user", "ann@example.com", **env
        )
    ).stdout
    assert "stored file_" in shown and "Echo: Analyze this file" in shown
