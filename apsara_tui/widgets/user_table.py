"""UserBrowser (a search box, role/plan/provider filters, a page of users and the page line) and
UserDetailsModal (one user, with the admin extras).

The browser never queries anything: it posts `UserBrowser.QueryChanged` with the query to
run and shows what the screen hands back (`show(result)` with `core.users.list`'s answer).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from math import ceil
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Footer, Input, Select, Static

from apsara_core.vocabulary import AUTH_PROVIDERS, PLANS, ROLES

PAGE_SIZE = 15  # a whole page stays visible at 80x24


def _cut(text: str | None, width: int) -> str:
    text = text or ""
    return text if len(text) <= width else text[: width - 1] + "…"


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if isinstance(value, datetime) else "—"


def is_locked(user: dict[str, Any]) -> bool:
    """True while the user's lockout is in force."""
    until = user.get("lockedUntil")
    if not isinstance(until, datetime):
        return False
    return (until if until.tzinfo else until.replace(tzinfo=UTC)) > datetime.now(UTC)


def describe_user(user: dict[str, Any]) -> str:
    """A few lines naming the user: for details panes and confirmations."""
    lines = [
        f"{user.get('fullName') or '—'} <{user.get('email') or '—'}>",
        f"id {user.get('_id')} · role {user.get('role')} · plan {user.get('subscriptionPlan')}"
        f" · via {user.get('authProvider')}",
        f"email verified: {'yes' if user.get('isEmailVerified') else 'no'} · "
        f"failed logins: {user.get('failedLoginAttempts', 0)} · "
        f"locked: {'until ' + _when(user.get('lockedUntil')) if is_locked(user) else 'no'}",
        f"created {_when(user.get('createdAt'))} · last login {_when(user.get('lastLoginAt'))}",
    ]
    return "\n".join(lines)


def user_row(user: dict[str, Any]) -> tuple[str, ...]:
    """The table cells of one user."""
    return (
        _cut(user.get("email"), 30),
        _cut(user.get("fullName"), 16),
        str(user.get("role")),
        str(user.get("subscriptionPlan")),
        str(user.get("authProvider")),
        "✓" if user.get("isEmailVerified") else "·",
        "locked" if is_locked(user) else "",
    )


class UserBrowser(Vertical):
    """Search, filter and page through users; Enter on a row posts `Picked`."""

    DEFAULT_CSS = """
    UserBrowser { height: 1fr; }
    UserBrowser > #user-filters { height: auto; }
    UserBrowser #user-search { width: 1fr; }
    UserBrowser Select { width: 14; }
    UserBrowser DataTable { height: 1fr; }
    UserBrowser #user-page { height: 1; padding: 0 1; color: $text-muted; }
    """

    @dataclass
    class QueryChanged(Message):
        """The filters or the page changed: run `query` and `show` the result."""

        browser: UserBrowser
        query: dict[str, Any]

    @dataclass
    class Picked(Message):
        """Enter was pressed on `user`."""

        browser: UserBrowser
        user: dict[str, Any]

    def __init__(self, *, page_size: int = PAGE_SIZE, id: str | None = None) -> None:
        super().__init__(id=id)
        self.page_size = page_size
        self.page = 1
        self.total = 0
        self._users: dict[str, dict[str, Any]] = {}

    def compose(self) -> ComposeResult:
        with Horizontal(id="user-filters"):
            yield Input(placeholder="search name or email", id="user-search")
            yield Select([(r, r) for r in ROLES], prompt="role", id="filter-role")
            yield Select([(p, p) for p in PLANS], prompt="plan", id="filter-plan")
            yield Select([(p, p) for p in AUTH_PROVIDERS], prompt="via", id="filter-provider")
        table: DataTable[str] = DataTable(id="users", cursor_type="row", zebra_stripes=True)
        table.add_columns("email", "name", "role", "plan", "via", "ok", "locked")
        yield table
        yield Static("Loading…", id="user-page")

    def on_mount(self) -> None:
        self.refresh_query()

    def query_dict(self) -> dict[str, Any]:
        """The list query the filters describe (None for "any")."""

        def pick(select_id: str) -> str | None:
            select = self.query_one(select_id, Select)
            return None if select.is_blank() else str(select.value)

        text = self.query_one("#user-search", Input).value.strip()
        return {
            "role": pick("#filter-role"),
            "plan": pick("#filter-plan"),
            "provider": pick("#filter-provider"),
            "text": text or None,
            "page": self.page,
            "page_size": self.page_size,
        }

    def refresh_query(self) -> None:
        """Ask the screen to (re)load the current page."""
        self.post_message(self.QueryChanged(self, self.query_dict()))

    @property
    def pages(self) -> int:
        """How many pages the last result spans (at least 1)."""
        return max(1, ceil(self.total / self.page_size))

    def turn(self, delta: int) -> bool:
        """Go `delta` pages forward or back; False when already at the edge."""
        page = min(max(1, self.page + delta), self.pages)
        if page == self.page:
            return False
        self.page = page
        self.refresh_query()
        return True

    def show(self, result: dict[str, Any]) -> None:
        """Fill the table with one page of `core.users.list`'s answer."""
        self.total = int(result.get("total", 0))
        table = self.query_one(DataTable)
        table.clear()
        self._users = {str(u["_id"]): u for u in result.get("items", [])}
        for user_id, user in self._users.items():
            table.add_row(*user_row(user), key=user_id)
        first = (self.page - 1) * self.page_size + 1 if self._users else 0
        last = first + len(self._users) - 1 if self._users else 0
        self.query_one("#user-page", Static).update(
            f"page {self.page}/{self.pages} · users {first}–{last} of {self.total}"
            + ("" if self.total else " · none match")
        )

    def replace(self, user: dict[str, Any]) -> None:
        """Show a changed user in place."""
        user_id = str(user["_id"])
        if user_id in self._users:
            self._users[user_id] = user
            table = self.query_one(DataTable)
            for column, cell in zip(table.columns, user_row(user), strict=False):
                table.update_cell(user_id, column, cell)

    @property
    def selected(self) -> dict[str, Any] | None:
        """The user under the cursor, if any."""
        table = self.query_one(DataTable)
        if not self._users or table.cursor_row < 0 or table.cursor_row >= table.row_count:
            return None
        key = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
        return self._users.get(str(key))

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.page = 1
        self.refresh_query()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one(DataTable).focus()

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        self.page = 1
        self.refresh_query()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        user = self._users.get(str(event.row_key.value))
        if user is not None:
            self.post_message(self.Picked(self, user))


class UserDetailsModal(ModalScreen["str | None"]):
    """One user's details and the admin extras; dismisses the chosen action's name or None."""

    DEFAULT_CSS = """
    UserDetailsModal { align: center middle; }
    UserDetailsModal > Vertical {
        width: 76; max-width: 100%; height: auto; max-height: 100%;
        border: thick $primary 60%; background: $surface; padding: 1 1;
    }
    UserDetailsModal #details { height: auto; margin-bottom: 1; }
    UserDetailsModal Horizontal { height: auto; }
    UserDetailsModal Button { min-width: 10; margin-right: 1; }
    """

    BINDINGS = [
        Binding("p", "pick('plan')", "Plan"),
        Binding("r", "pick('role')", "Role"),
        Binding("u", "pick('unlock')", "Unlock"),
        Binding("d", "pick('delete')", "Delete"),
        Binding("escape", "pick('')", "Close"),
    ]

    def __init__(self, user: dict[str, Any]) -> None:
        super().__init__()
        self.user = user

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(describe_user(self.user), id="details", markup=False)
            with Horizontal():
                for action, label in (
                    ("plan", "Plan (p)"),
                    ("role", "Role (r)"),
                    ("unlock", "Unlock (u)"),
                    ("delete", "Delete (d)"),
                ):
                    yield Button(
                        label,
                        id=f"do-{action}",
                        variant="error" if action == "delete" else "default",
                        disabled=action == "unlock" and not is_locked(self.user),
                    )
        yield Footer()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(str(event.button.id).removeprefix("do-"))

    def action_pick(self, action: str) -> None:
        """Dismiss with the action name ("" closes)."""
        self.dismiss(action or None)
