"""Action 7: call a plugin. Pick provider/plugin; a form generated from its parameter schema,
checked by the core as you type; sync or async, with or without the model's answer (streamed
into the chat view); the result; a jobs panel with live status (ctrl+k cancels the selected
job).

The call goes into the current conversation when it is the chosen user's, else into a new one.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import (
    Button,
    Checkbox,
    DataTable,
    Footer,
    Header,
    Input,
    Label,
    Select,
    Static,
)

from apsara_core.errors import ApsaraError
from apsara_tui.screens.base import Need
from apsara_tui.screens.chat_base import ChatBaseScreen
from apsara_tui.values import read_value
from apsara_tui.widgets.chat_log import ChatLog

JOBS_REFRESH_S = 0.5


class PluginScreen(ChatBaseScreen):
    """Action 7: a plugin call with its form, result, model answer and jobs."""

    NEEDS: ClassVar[tuple[Need, ...]] = ("user",)
    BINDINGS = [Binding("ctrl+k", "cancel_job", "Cancel job")]

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[str] = []
        self.plugins: dict[str, dict[str, Any]] = {}
        self.conversation: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="plugin-top"):
            with Vertical(id="plugin-pick"):
                yield Select[str]([], prompt="provider/plugin", id="plugin-select")
                yield Static("", id="plugin-about", markup=False)
                yield Checkbox("async (a job)", id="plugin-async")
                yield Checkbox("send to model", id="plugin-send")
                yield Button("Call", id="plugin-call", variant="primary", disabled=True)
            with Vertical(id="plugin-form-box"):
                yield VerticalScroll(id="plugin-form")
                yield Static("", id="plugin-check", markup=False)
        yield Static("", id="plugin-result", markup=False)
        with Horizontal(id="plugin-bottom"):
            yield ChatLog(id="plugin-chat")
            table: DataTable[str] = DataTable(id="plugin-jobs", cursor_type="row")
            table.add_columns("job", "plugin", "status")
            yield table
        yield Footer()

    def on_mount(self) -> None:
        listed = self.core.plugins.list()
        self.plugins = {f"{p['provider']}/{p['name']}": p for p in listed["plugins"]}
        select = self.query_one("#plugin-select", Select)
        select.set_options([(key, key) for key in self.plugins])
        for broken in listed["broken"]:
            self.notify(
                f"{broken['entryPoint']}: {broken['error']}",
                title="Broken plugin",
                severity="warning",
            )
        conv = self.apsara.current_conversation
        if conv is not None and self.user and conv.user_id == str(self.user.get("_id")):
            self.conversation = conv.conversation_id
        self.set_interval(JOBS_REFRESH_S, self.refresh_jobs)

    @property
    def key(self) -> str | None:
        """The chosen plugin's provider/name."""
        value = self.query_one("#plugin-select", Select).value
        return value if isinstance(value, str) and value in self.plugins else None

    @on(Select.Changed, "#plugin-select")
    async def _picked(self) -> None:
        form = self.query_one("#plugin-form", VerticalScroll)
        await form.remove_children()
        self.fields = []
        if self.key is None:
            return
        plugin = self.plugins[self.key]
        schema = plugin["parameters"]
        required = set(schema.get("required", []))
        self.query_one("#plugin-about", Static).update(plugin["description"])
        self.query_one("#plugin-async", Checkbox).disabled = not plugin["mayRunAsync"]
        for i, (name, prop) in enumerate(schema.get("properties", {}).items()):
            self.fields.append(name)
            hint = prop.get("description") or prop.get("type") or "JSON"
            await form.mount(Label(f"{name}{' *' if name in required else ''}"))
            await form.mount(Input(placeholder=str(hint), id=f"param-{i}"))
        self.check()

    def params(self) -> dict[str, Any]:
        """What the form holds (empty fields left out)."""
        out: dict[str, Any] = {}
        for i, name in enumerate(self.fields):
            text = self.query_one(f"#param-{i}", Input).value
            if text.strip():
                out[name] = read_value(text)
        return out

    @on(Input.Changed)
    def check(self) -> bool:
        """Validate the form with the core; say what is wrong; enable Call when it is right."""
        verdict, button = (
            self.query_one("#plugin-check", Static),
            self.query_one("#plugin-call", Button),
        )
        if self.key is None:
            button.disabled = True
            return False
        provider, name = self.key.split("/", 1)
        try:
            self.core.plugins.check(provider, name, self.params())
        except ApsaraError as exc:
            verdict.update(f"✗ {exc.message}")
            button.disabled = True
            return False
        verdict.update("✓ parameters valid")
        button.disabled = False
        return True

    @on(Button.Pressed, "#plugin-call")
    def _call_pressed(self) -> None:
        if self.key is not None and self.check():
            self.run_call(
                self.key,
                self.params(),
                self.query_one("#plugin-async", Checkbox).value,
                self.query_one("#plugin-send", Checkbox).value,
            )

    @work(exclusive=True, group="call")
    async def run_call(self, key: str, params: dict[str, Any], run_async: bool, send: bool) -> None:
        """Call; a sync call with the model streams its answer into the chat view."""
        provider, name = key.split("/", 1)
        result = self.query_one("#plugin-result", Static)
        result.update(f"calling {key} …")
        done = await self.call_as(
            lambda me: self.core.plugins.call(
                actor=me,
                provider=provider,
                plugin=name,
                parameters=params,
                conversation_id=self.conversation,
                run_async=run_async,
                send_to_model=send and run_async,
            ),
            for_user=True,
        )
        if done is None:
            result.update(f"{key} failed (see the notification)")
            return
        self.conversation = done["conversationId"]
        if run_async:
            result.update(f"queued job {done['jobId']}")
            await self.refresh_jobs()
            return
        result.update(
            f"{key} → {json.dumps(done['result'], ensure_ascii=False)} ({done['durationMs']:g} ms)"
        )
        if send:
            log = self.query_one("#plugin-chat", ChatLog)
            events = self.speaking(
                lambda me: self.core.chat.stream_regenerate(
                    actor=me, conversation_id=self.conversation, message_id=done["toolMessageId"]
                )
            )
            await self.stream_reply(log, events)

    async def refresh_jobs(self) -> None:
        """Show the user's newest jobs with their live status."""
        if not self.is_current:
            return
        jobs = await self.call_as(lambda me: self.core.jobs.list(actor=me, limit=20), for_user=True)
        if jobs is None:
            return
        table = self.query_one("#plugin-jobs", DataTable)
        keys = [str(row.value) for row in table.rows]
        if keys != [j["jobId"] for j in jobs]:
            table.clear()
            for j in jobs:
                table.add_row(
                    j["jobId"], f"{j['provider']}/{j['plugin']}", j["status"], key=j["jobId"]
                )
            return
        for j in jobs:
            table.update_cell(j["jobId"], table.ordered_columns[2].key, j["status"])

    async def action_cancel_job(self) -> None:
        """Cancel the selected job (queued: at once; running: its worker stops it)."""
        table = self.query_one("#plugin-jobs", DataTable)
        if not table.row_count:
            return
        job_id = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        job = await self.call_as(
            lambda me: self.core.jobs.cancel(actor=me, job_id=job_id), for_user=True
        )
        if job is not None:
            self.notify(f"{job_id}: {job['status']}", title="Cancel")
            await self.refresh_jobs()
