"""Action 19 with Pilot at 80x24: pick, upload with progress, cancel, analyze with the answer
streaming, follow-up questions, and the files list with delete."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.widgets import Button, DirectoryTree, Input, ProgressBar, Select, Static

from apsara_core.core import Core
from apsara_tui.app import ApsaraApp
from apsara_tui.screens.files import FileListScreen, FileUploadScreen
from apsara_tui.widgets.chat_input import ChatInput
from apsara_tui.widgets.chat_log import ChatLog
from apsara_tui.widgets.confirm import ConfirmModal
from tests.file_samples import png
from tests.tui.chat_fixtures import chat_user


async def settle(app: ApsaraApp, pilot) -> None:
    """Let the screens' workers finish (not DirectoryTree's loader, which runs for ever)."""
    await pilot.pause()
    pending = [w for w in app.workers if not isinstance(w.node, DirectoryTree)]
    if pending:  # an empty list would mean every worker
        await app.workers.wait_for_complete(pending)
    await pilot.pause(0.1)


def text_of(widget: Static) -> str:
    return str(widget.render())


async def open_upload(app: ApsaraApp, core: Core, pilot) -> dict:
    user = await chat_user(core, plan="premium")
    app.current_user = user
    app.open_action(19)
    await settle(app, pilot)
    assert isinstance(app.screen, FileUploadScreen)
    return user


async def test_upload_then_describe_and_follow_up(
    chat_app: ApsaraApp, core: Core, tmp_path: Path
) -> None:
    image = tmp_path / "photo.png"
    image.write_bytes(png())
    async with chat_app.run_test(size=(80, 24)) as pilot:
        user = await open_upload(chat_app, core, pilot)
        screen = chat_app.screen
        screen.query_one(DirectoryTree).path = tmp_path
        await pilot.pause(0.2)
        screen.query_one(DirectoryTree).post_message(
            DirectoryTree.FileSelected(screen.query_one(DirectoryTree).root, image)
        )
        await settle(chat_app, pilot)
        assert screen.query_one("#upload-path", Input).value == str(image)
        screen.query_one("#upload-method", Select).value = "local"
        screen.query_one("#upload-go", Button).press()
        await settle(chat_app, pilot)
        result = text_of(screen.query_one("#upload-result", Static))
        assert "stored file_" in result and "photo.png" in result and "local" in result
        assert screen.query_one(ProgressBar).percentage == 1.0
        [rec] = await core.db.files.find({"userId": user["_id"]}).to_list()
        assert rec["displayName"] == "photo.png"
        screen.query_one("#analysis-go", Button).press()
        await settle(chat_app, pilot)
        log = screen.query_one("#file-chat", ChatLog)
        assert len(log.views) == 2 and "Echo: Analyze this file" in log.views[1].text
        screen.query_one(ChatInput).focus()
        screen.query_one(ChatInput).text = "what colour?"
        await pilot.press("enter")
        await settle(chat_app, pilot)
        assert len(log.views) == 4 and "Echo: what colour? (turns=3)" in log.views[3].text
    conv = await core.db.conversations.find_one({"userId": user["_id"]})
    assert conv["title"] == "Analysis: photo.png" and conv["stats"]["totalMessages"] == 4
    msgs = await core.db.messages.find({"conversationId": conv["_id"]}).to_list()
    assert msgs[0]["files"][0]["fileId"] == rec["fileId"]


async def test_ask_needs_a_question_and_skip_stores_only(
    chat_app: ApsaraApp, core: Core, tmp_path: Path
) -> None:
    image = tmp_path / "a.png"
    image.write_bytes(png())
    async with chat_app.run_test(size=(80, 24)) as pilot:
        await open_upload(chat_app, core, pilot)
        screen = chat_app.screen
        screen.query_one("#upload-path", Input).value = str(image)
        screen.query_one("#upload-go", Button).press()
        await settle(chat_app, pilot)
        screen.query_one("#analysis-mode", Select).value = "ask"
        screen.query_one("#analysis-go", Button).press()
        await settle(chat_app, pilot)
        assert any("ask needs a question" in n.message for n in chat_app._notifications)
        screen.query_one("#analysis-mode", Select).value = "skip"
        screen.query_one("#analysis-go", Button).press()
        await settle(chat_app, pilot)
        assert screen.query_one("#file-chat", ChatLog).views == []
    assert await core.db.messages.count_documents({}) == 0
    assert await core.db.files.count_documents({}) == 1


async def test_cancel_removes_the_partial_upload(
    chat_app: ApsaraApp, core: Core, tmp_path: Path
) -> None:
    big = tmp_path / "big.txt"
    big.write_bytes(b"text line\n" * 900_000)  # 9 MB
    async with chat_app.run_test(size=(80, 24)) as pilot:
        await open_upload(chat_app, core, pilot)
        screen = chat_app.screen
        bar = screen.query_one(ProgressBar)
        screen.query_one("#upload-path", Input).value = str(big)
        screen.query_one("#upload-go", Button).press()
        for _ in range(200):
            await asyncio.sleep(0.005)
            if (bar.progress or 0) > 0:
                break
        await pilot.press("ctrl+x")  # mid-upload: had it finished, the line would say "stored"
        await settle(chat_app, pilot)
        assert "cancelled" in text_of(screen.query_one("#upload-result", Static))
    assert await core.db.files.count_documents({}) == 0
    uploads = core.settings.upload_dir
    assert not any(p.is_file() for p in uploads.rglob("*")) if uploads.exists() else True


async def test_files_list_deletes_after_confirming(
    chat_app: ApsaraApp, core: Core, tmp_path: Path
) -> None:
    from tests.factories import principal_of

    image = tmp_path / "a.png"
    image.write_bytes(png())
    async with chat_app.run_test(size=(80, 24)) as pilot:
        user = await open_upload(chat_app, core, pilot)
        await core.files.upload_paths(actor=principal_of(user), paths=[image])
        await pilot.press("ctrl+o")
        await settle(chat_app, pilot)
        assert isinstance(chat_app.screen, FileListScreen)
        assert "1 files" in text_of(chat_app.screen.query_one("#file-count", Static))
        await pilot.press("d")
        await settle(chat_app, pilot)
        assert isinstance(chat_app.screen, ConfirmModal)
        await pilot.click("#confirm")
        await settle(chat_app, pilot)
        assert "0 files" in text_of(chat_app.screen.query_one("#file-count", Static))
    assert await core.db.files.count_documents({}) == 0


async def test_action_19_needs_a_user(chat_app: ApsaraApp) -> None:
    async with chat_app.run_test(size=(80, 24)) as pilot:
        chat_app.open_action(19)
        await settle(chat_app, pilot)
        assert not isinstance(chat_app.screen, FileUploadScreen)  # the app refuses to open it
        assert any(
            n.severity == "warning" and n.message == "Choose a user first (action 10)."
            for n in chat_app._notifications
        )
