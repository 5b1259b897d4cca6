"""Actions 17 and 18: database statistics and user statistics (password protected).

Both show tables and charts with axes, a scale and labels (messages and tokens per day over
the period, model popularity; textual-plotext), and bars of today's quota. `p` on either
opens the plans screen. The data is the core's statistics service's, read once per refresh.
"""

from __future__ import annotations

from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Footer, Header, Input, Label, Static

from apsara_core.errors import AuthenticationError
from apsara_core.models import Principal
from apsara_tui.screens.base import CoreScreen
from apsara_tui.widgets.charts import DayChart, ModelChart

BAR_WIDTH = 16


def bar(value: int, top: int, width: int = BAR_WIDTH) -> str:
    """A text bar of `value` relative to `top`."""
    if top <= 0 or value <= 0:
        return ""
    return "█" * max(1, round(width * min(value, top) / top))


def fill(table: DataTable[str], rows: list[list[Any]]) -> None:
    """Replace a table's rows."""
    table.clear()
    for row in rows:
        table.add_row(*(str(v) for v in row))


class StatsBase(CoreScreen):
    """Shared layout: a summary line, then a scrolling column of charts and tables."""

    BINDINGS = [Binding("r", "refresh", "Refresh"), Binding("p", "plans", "Plans")]

    def table(self, table_id: str, *columns: str) -> DataTable[str]:
        """A read-only table with these columns."""
        table: DataTable[str] = DataTable(id=table_id, cursor_type="row", zebra_stripes=True)
        table.add_columns(*columns)
        return table

    def action_plans(self) -> None:
        """Open the plans screen."""
        from apsara_tui.screens.plans import PlansScreen

        self.app.push_screen(PlansScreen())

    def day_chart(self, chart_id: str, title: str, days: list[dict[str, Any]], key: str) -> None:
        """Draw `key` of each day of `days` (the service's per-day rows) in a day chart."""
        self.query_one(f"#{chart_id}", DayChart).show(
            title, [d["date"] for d in days], [int(d[key]) for d in days]
        )

    def model_chart(self, title: str, models: list[dict[str, Any]]) -> None:
        """Draw model popularity (replies per model, most used first)."""
        self.query_one("#model-chart", ModelChart).show(
            title, [(m["model"], int(m["messages"])) for m in models]
        )


class DatabaseStatsScreen(StatsBase):
    """Action 17: users, registrations, messages, tokens, models, refusals, active users."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Loading…", id="summary")
        with VerticalScroll():
            yield DayChart(id="messages")
            yield DayChart(id="tokens")
            yield ModelChart(id="model-chart")
            yield self.table("models", "model", "replies", "tokens", "refused", "failed", "")
            yield self.table("users", "users by", "value", "count")
            yield self.table("top", "most active", "replies", "tokens", "refused")
        yield Footer()

    def on_mount(self) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        """Reload from the database."""
        self._load()

    @work(exclusive=True)
    async def _load(self) -> None:
        data = await self.call_as(lambda me: self.core.stats.database(actor=me))
        if data is not None:
            self.show(data)

    def show(self, data: dict[str, Any]) -> None:
        """Fill the summary, charts and tables."""
        users, totals, days = data["users"], data["totals"], data["usagePerDay"]
        regs = sum(r["count"] for r in data["registrationsPerDay"])
        self.query_one("#summary", Static).update(
            f"[b]{users['total']}[/] users ({regs} new) · [b]{totals['storedMessages']}[/] "
            f"messages stored · [b]{totals['messages']}[/] model replies · "
            f"{totals['tokens']} tokens · {data['rateLimitRefusals']} refusals · "
            f"{data['errors']['failedCalls']} failed · last {data['period']['days']} days"
        )
        self.day_chart("messages", "model replies per day", days, "messages")
        self.day_chart("tokens", "tokens per day", days, "tokens")
        self.model_chart(
            f"model popularity (replies, last {data['period']['days']} days)", data["models"]
        )
        top = max((m["messages"] for m in data["models"]), default=0)
        fill(
            self.query_one("#models", DataTable),
            [
                [
                    m["model"],
                    m["messages"],
                    m["tokens"],
                    m["refused"],
                    m["failed"],
                    bar(m["messages"], top),
                ]
                for m in data["models"]
            ],
        )
        fill(
            self.query_one("#users", DataTable),
            [
                [kind[2:].lower(), value, n]
                for kind in ("byPlan", "byRole", "byProvider")
                for value, n in sorted(users[kind].items())
            ],
        )
        fill(
            self.query_one("#top", DataTable),
            [
                [u["email"] or u["userId"], u["messages"], u["tokens"], u["refused"]]
                for u in data["mostActiveUsers"]
            ],
        )


class PasswordModal(ModalScreen[str | None]):
    """Ask for the user's password; dismisses the text, or None on cancel."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, email: str) -> None:
        super().__init__()
        self._email = email

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Statistics are password protected.\nPassword of {self._email}:")
            yield Input(password=True, id="password")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Show", id="ok", variant="primary")

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def submit(self) -> None:
        """Return the typed password."""
        self.dismiss(self.query_one("#password", Input).value)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Give up."""
        self.dismiss(None)


class UserStatsScreen(StatsBase):
    """Action 18: one user's statistics. A logged-in non-admin sees their own, after their
    password; an admin (the operator, or an admin's session) any user, by email or id."""

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="pick"):
            yield Input(placeholder="email or id, Enter to show", id="who")
        yield Static("", id="summary")
        with VerticalScroll():
            yield DayChart(id="messages")
            yield ModelChart(id="model-chart")
            yield self.table("quota", "quota today", "used", "limit", "")
            yield self.table("models", "model", "replies", "tokens")
            yield self.table("convs", "most active conversation", "messages", "tokens")
        yield Footer()

    _me: Principal | None = None
    """Who acts here (the core's actor rule), resolved when the screen opens."""

    def _protected(self) -> bool:
        return self._me is not None and not self._me.is_admin

    def on_mount(self) -> None:
        self._start()

    @work(exclusive=True, group="start")
    async def _start(self) -> None:
        self._me = await self.call(self.acting())
        if self._me is None:
            return
        who = self.query_one("#who", Input)
        if self._protected():  # a non-admin sees only their own, after their password
            who.value, who.disabled = self._me.email or self._me.user_id, True
            self.ask_password()
        elif user := self.apsara.current_user:
            who.value = user.get("email") or str(user.get("_id"))
            self.action_refresh()
        else:
            self.query_one("#summary", Static).update("Type a user's email or id, then Enter.")
            who.focus()

    @on(Input.Submitted, "#who")
    def action_refresh(self) -> None:
        """Show the chosen user (asks for the password again when protected)."""
        if self._protected():
            self.ask_password()
        elif self._me is not None and self.query_one("#who", Input).value.strip():
            self._load(self._me, self.query_one("#who", Input).value.strip(), None)

    def ask_password(self) -> None:
        """Open the password modal for the logged-in non-admin."""
        self.app.push_screen(
            PasswordModal(str((self._me and self._me.email) or "")), self._with_password
        )

    def _with_password(self, password: str | None) -> None:
        if password is None or self._me is None:
            self.query_one("#summary", Static).update("Password needed: press r to try again.")
            return
        self._load(self._me, self._me.user_id, password)

    @work(exclusive=True)
    async def _load(self, actor: Principal, who: str, password: str | None) -> None:
        data = await self.call(self._fetch(actor, who, password))
        if data is not None:
            self.show(data)

    async def _fetch(self, actor: Principal, who: str, password: str | None) -> dict[str, Any]:
        try:
            return await self.core.stats.user(actor=actor, user=who, password=password)
        except AuthenticationError as exc:
            self.query_one("#summary", Static).update(f"{exc.message}: press r to try again.")
            raise

    def show(self, data: dict[str, Any]) -> None:
        """Fill the summary, chart and tables."""
        u, msgs, tokens = data["user"], data["messages"], data["tokens"]
        roles = ", ".join(f"{k} {v}" for k, v in sorted(msgs["byRole"].items())) or "none"
        self.query_one("#summary", Static).update(
            f"[b]{u['email']}[/] ({u['subscriptionPlan']}) · {data['conversations']['total']} "
            f"conversations · {msgs['total']} messages ({roles}) · {tokens['total']} tokens "
            f"(prompt {tokens['prompt']}, output {tokens['output']}, thoughts {tokens['thoughts']})"
        )
        self.day_chart("messages", "messages per day", data["messagesPerDay"], "count")
        self.model_chart("model popularity (replies)", data["models"])
        quota = data["quota"]["dailyUsage"]
        fill(
            self.query_one("#quota", DataTable),
            [
                [m, q["count"], q["limit"], bar(q["count"], q["limit"])]
                for m, q in quota.items()
                if m != "date"
            ],
        )
        fill(
            self.query_one("#models", DataTable),
            [[m["model"], m["messages"], m["tokens"]] for m in data["models"]],
        )
        fill(
            self.query_one("#convs", DataTable),
            [[c["title"], c["messages"], c["tokens"]] for c in data["conversations"]["mostActive"]],
        )
