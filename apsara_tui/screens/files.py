"""Upload a file and analyze it with AI (action 19), and the files list (ctrl+o) with delete.

The upload screen: pick a file (Textual's DirectoryTree, or type a path), choose the storage
method and auto's preference, upload with a progress bar (ctrl+x cancels: the upload's staging
file and any placed object are removed by the core), see where it went and why; then describe,
extract, ask or skip. The answer streams into the chat view, and follow-up questions continue
that conversation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import (
    Button,
    DataTable,
    DirectoryTree,
    Footer,
    Header,
    Input,
    ProgressBar,
    Select,
    Static,
)

from apsara_core.storage.types import human_size
from apsara_tui.screens.base import Need
from apsara_tui.screens.chat_base import ChatBaseScreen
from apsara_tui.widgets.chat_input import ChatInput
from apsara_tui.widgets.chat_log import ChatLog
from apsara_tui.widgets.confirm import ConfirmModal

METHODS = [
    ("auto", "auto"),
    ("local", "local"),
    ("s3", "s3"),
    ("google-file-api", "google-file-api"),
]
PREFERENCES = [
    ("no preference", ""),
    ("speed", "speed"),
    ("processing", "processing"),
    ("storage", "storage"),
]
ANALYSES = [
    ("describe", "describe"),
    ("extract text", "extract"),
    ("ask a question", "ask"),
    ("skip", "skip"),
]


class FileUploadScreen(ChatBaseScreen):
    """Action 19: upload, then analyze and talk about the file."""

    NEEDS: ClassVar[tuple[Need, ...]] = ("user",)
    BINDINGS = [
        Binding("ctrl+x", "cancel_upload", "Cancel upload"),
        Binding("ctrl+o", "files", "Files"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.file: dict[str, Any] | None = None
        self.analysis_conversation: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="upload-top"):
            yield DirectoryTree(Path.cwd(), id="upload-tree")
            with Vertical(id="upload-form"):
                yield Input(placeholder="path of the file", id="upload-path")
                yield Select(METHODS, value="auto", allow_blank=False, id="upload-method")
                yield Select(PREFERENCES, value="", allow_blank=False, id="upload-prefer")
                yield Button("Upload", id="upload-go", variant="primary")
        yield ProgressBar(id="upload-progress", show_eta=False)
        yield Static("", id="upload-result", markup=False)
        with Horizontal(id="analysis-row"):
            yield Select(ANALYSES, value="describe", allow_blank=False, id="analysis-mode")
            yield Input(placeholder="your question (ask)", id="analysis-question")
            yield Button("Analyze", id="analysis-go", disabled=True)
        yield ChatLog(id="file-chat")
        yield ChatInput(id="file-input", placeholder="Follow-up question (after an analysis)")
        yield Footer()

    @on(DirectoryTree.FileSelected)
    def _picked(self, event: DirectoryTree.FileSelected) -> None:
        self.query_one("#upload-path", Input).value = str(event.path)

    @on(Button.Pressed, "#upload-go")
    @on(Input.Submitted, "#upload-path")
    def _upload_pressed(self) -> None:
        path = Path(self.query_one("#upload-path", Input).value.strip()).expanduser()
        if not path.is_file():
            self.notify(f"{path} is not a file", title="Choose a file", severity="warning")
            return
        self.upload(
            path,
            str(self.query_one("#upload-method", Select).value),
            str(self.query_one("#upload-prefer", Select).value) or None,
        )

    @work(exclusive=True, group="upload")
    async def upload(self, path: Path, method: str, preference: str | None) -> None:
        """Upload with the progress bar; cancelling removes what was written."""
        bar, result = self.query_one(ProgressBar), self.query_one("#upload-result", Static)
        bar.update(total=path.stat().st_size, progress=0)
        result.update(f"uploading {path.name} …")
        stored = await self.call_as(
            lambda me: self.core.files.upload_paths(
                actor=me,
                paths=[path],
                method=method,
                preference=preference,
                progress=lambda n: bar.advance(n),
            ),
            for_user=True,
        )
        if not stored:
            result.update("upload failed: nothing was kept")
            return
        self.file = stored[0]
        result.update(
            f"stored {self.file['fileId']} {self.file['displayName']} "
            f"({human_size(self.file['size'])}, {self.file['mimeType']}) — "
            f"{self.file['reason']}"
        )
        self.query_one("#analysis-go", Button).disabled = False

    def action_cancel_upload(self) -> None:
        """Stop the running upload (the core removes its partial object)."""
        if not any(w.group == "upload" and w.is_running for w in self.workers):
            return
        self.workers.cancel_group(self, "upload")
        self.query_one("#upload-result", Static).update("upload cancelled: nothing was kept")

    @on(Button.Pressed, "#analysis-go")
    def _analyze_pressed(self) -> None:
        mode = str(self.query_one("#analysis-mode", Select).value)
        if self.file is None:
            return
        if mode == "skip":
            self.notify("Stored without analysis", title="Skipped")
            return
        self.analyze(mode, self.query_one("#analysis-question", Input).value)

    @work(exclusive=True, group="chat")
    async def analyze(self, mode: str, question: str) -> None:
        """Start the analysis and stream its answer into the chat view."""
        assert self.file is not None
        started = await self.call_as(
            lambda me: self.core.file_analysis.start(
                actor=me,
                file_id=self.file["fileId"],
                mode=mode,
                question=question or None,
                conversation_id=self.analysis_conversation,
            ),
            for_user=True,
        )
        if started is None:
            return
        self.analysis_conversation = started.conversation_id
        log = self.query_one("#file-chat", ChatLog)
        await log.add({"role": "user", "content": {"text": started.prompt}}, follow=True)
        await self.stream_reply(log, started.events)

    @on(ChatInput.Submitted, "#file-input")
    def _follow_up(self, event: ChatInput.Submitted) -> None:
        if self.analysis_conversation is None:
            self.notify("Analyze the file first", severity="warning")
            return
        event.chat_input.clear()
        self.follow_up(event.text)

    @work(exclusive=True, group="chat")
    async def follow_up(self, text: str) -> None:
        """A follow-up question in the analysis conversation."""
        log = self.query_one("#file-chat", ChatLog)
        await log.add({"role": "user", "content": {"text": text}}, follow=True)
        events = self.speaking(
            lambda me: self.core.chat.stream(
                actor=me, conversation_id=self.analysis_conversation, text=text
            )
        )
        await self.stream_reply(log, events)

    def action_files(self) -> None:
        """Open the files list."""
        self.app.push_screen(FileListScreen())


class FileListScreen(ChatBaseScreen):
    """The chosen user's files (an admin session without a user: everyone's); d deletes."""

    NEEDS: ClassVar[tuple[Need, ...]] = ("user",)
    BINDINGS = [
        Binding("d", "delete", "Delete"),
        Binding("r", "reload", "Refresh"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="file-table", cursor_type="row")
        yield Static("", id="file-count", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("id", "name", "type", "size", "method")
        self.reload()

    @work(exclusive=True, group="list")
    async def reload(self) -> None:
        """Load the user's newest files."""
        result = await self.call_as(
            lambda me: self.core.files.list(actor=me, user_id=me.user_id, page_size=100),
            for_user=True,
        )
        table = self.query_one(DataTable)
        table.clear()
        for f in (result or {}).get("files", []):
            table.add_row(
                f["fileId"],
                f["displayName"],
                f["mimeType"],
                human_size(f["size"]),
                f["method"],
                key=f["fileId"],
            )
        self.query_one("#file-count", Static).update(f"{(result or {}).get('total', 0)} files")

    def action_reload(self) -> None:
        """Refresh the list."""
        self.reload()

    def action_delete(self) -> None:
        """Delete the highlighted file, after confirming."""
        table = self.query_one(DataTable)
        if not table.row_count:
            return
        row = table.get_row_at(table.cursor_row)
        body = f"{row[1]} ({row[0]}): its stored object and Gemini File API copy go too."
        self.app.push_screen(
            ConfirmModal("Delete this file?", body),
            lambda yes: self._delete(str(row[0])) if yes else None,
        )

    @work(group="delete")
    async def _delete(self, file_id: str) -> None:
        done = await self.call_as(
            lambda me: self.core.files.delete(actor=me, file_id=file_id), for_user=True
        )
        if done:
            notes = "; ".join(done["notes"])
            self.notify(f"Deleted {done['displayName']}" + (f" ({notes})" if notes else ""))
            self.reload()
