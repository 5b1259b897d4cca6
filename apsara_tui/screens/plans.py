"""Plans (admins): every plan x model, and x model group (one limit shared by its models), with
its limit; Enter edits a limit in a modal."""

from __future__ import annotations

from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import (
    Button,
    DataTable,
    Footer,
    Header,
    Input,
    Label,
    RadioButton,
    RadioSet,
    Static,
)

from apsara_core.services.plans import MAX_LIMIT
from apsara_tui.screens.base import CoreScreen

GROUP = "group:"  # a row key's prefix for a model group (model names have no colon)


def limit_error(text: str) -> str | None:
    """Why `text` is not a valid limit, or None when it is."""
    text = text.strip()
    if not text.isdigit() or int(text) > MAX_LIMIT:
        return f"Expected a whole number from 0 to {MAX_LIMIT}"
    return None


class LimitModal(ModalScreen[dict[str, Any] | None]):
    """Edit one plan/model limit; dismisses {"kind": "daily"|"total", "value": int} or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, plan: str, model: str, entry: dict[str, Any]) -> None:
        super().__init__()
        self._plan, self._model = plan, model
        self._total = entry.get("total") is not None
        self._value = entry.get("total") if self._total else entry.get("daily")

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"[b]{self._plan}[/] · {self._model}")
            with RadioSet(id="kind"):
                yield RadioButton("per day", value=not self._total, id="daily")
                yield RadioButton("in total", value=self._total, id="total")
            yield Input(
                "" if self._value is None else str(self._value), id="value", placeholder="messages"
            )
            yield Static("", id="error")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Save", id="save", variant="primary")

    @on(Input.Changed, "#value")
    def validate_value(self) -> bool:
        """Show the problem with the typed limit as you type; True when valid."""
        problem = limit_error(self.query_one("#value", Input).value)
        self.query_one("#error", Static).update(problem or "")
        self.query_one("#save", Button).disabled = problem is not None
        return problem is None

    @on(Input.Submitted, "#value")
    @on(Button.Pressed, "#save")
    def save(self) -> None:
        """Return the new limit when it is valid."""
        if self.validate_value():
            kind = "total" if self.query_one("#total", RadioButton).value else "daily"
            self.dismiss({"kind": kind, "value": int(self.query_one("#value", Input).value)})

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without changing anything."""
        self.dismiss(None)


class PlansScreen(CoreScreen):
    """Plans x models and model groups; Enter on a row edits its limit (admins; audited)."""

    BINDINGS = [
        Binding("r", "refresh", "Refresh"),
        Binding("enter", "edit", "Edit limit", show=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._plans: dict[str, dict[str, Any]] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Plans: Enter edits the highlighted limit.", id="summary")
        table: DataTable[str] = DataTable(id="plans", cursor_type="row", zebra_stripes=True)
        table.add_columns("plan", "model", "daily", "total", "features")
        yield table
        yield Footer()

    def on_mount(self) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        """Reload the plans."""
        self._load()

    @work(exclusive=True)
    async def _load(self) -> None:
        self.core.plans.invalidate()
        plans = await self.call(self.core.plans.list())
        if plans is not None:
            self.show(plans)

    def show(self, plans: list[dict[str, Any]]) -> None:
        """Fill the table: one row per plan and model."""
        self._plans = {p["name"]: p for p in plans}
        table = self.query_one(DataTable)
        table.clear()
        for plan in plans:
            for model, entry in sorted(plan["models"].items()):
                table.add_row(
                    plan["name"],
                    model,
                    _text(entry.get("daily")),
                    _text(entry.get("total")),
                    ", ".join(plan["features"]),
                    key=f"{plan['name']}|{model}",
                )
            for name, group in sorted((plan.get("groups") or {}).items()):
                table.add_row(
                    plan["name"],
                    f"group {name}: {', '.join(group['models'])}",
                    _text(group.get("daily")),
                    _text(group.get("total")),
                    ", ".join(plan["features"]),
                    key=f"{plan['name']}|{GROUP}{name}",
                )

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self._edit(str(event.row_key.value))

    def action_edit(self) -> None:
        """Edit the highlighted row's limit."""
        table = self.query_one(DataTable)
        if table.row_count:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
            self._edit(str(key.value))

    def _edit(self, key: str) -> None:
        plan, model = key.split("|", 1)
        doc = self._plans.get(plan, {})
        if model.startswith(GROUP):
            entry, title = (
                doc.get("groups", {}).get(model[len(GROUP) :], {}),
                f"group {model[len(GROUP) :]}",
            )
        else:
            entry, title = doc.get("models", {}).get(model, {}), model

        def done(result: dict[str, Any] | None) -> None:
            if result is not None:
                self._save(plan, model, result)

        self.app.push_screen(LimitModal(plan, title, entry), done)

    @work(exclusive=True)
    async def _save(self, plan: str, model: str, result: dict[str, Any]) -> None:
        limit = {result["kind"]: result["value"]}
        if model.startswith(GROUP):
            name = model[len(GROUP) :]
            members = self._plans.get(plan, {}).get("groups", {}).get(name, {}).get("models", [])
            saved = await self.call_as(
                lambda me: self.core.plans.set_group(
                    actor=me, plan=plan, group=name, models=members, **limit
                )
            )
        else:
            saved = await self.call_as(
                lambda me: self.core.plans.set_limit(actor=me, plan=plan, model=model, **limit)
            )
        if saved is not None:
            shown = f"group {model[len(GROUP) :]}" if model.startswith(GROUP) else model
            self.notify(
                f"{plan}: {shown} now {result['value']} "
                f"{'per day' if result['kind'] == 'daily' else 'in total'}"
            )
            self.show(await self.core.plans.list())


def _text(value: int | None) -> str:
    return "-" if value is None else str(value)
