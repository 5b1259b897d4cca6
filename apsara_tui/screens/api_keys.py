"""Personal API keys of one user (from Home with `k` for the current user, or from the users
list with `k` for the selected one): list, create (the key is shown once), revoke (asks first).

Who acts follows the core's one actor rule, on the screen's user: the operator as admin for
anyone, a logged-in session for itself only. Everything goes through `core.api_keys`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, DataTable, Footer, Header, Static

from apsara_core.config import parse_duration
from apsara_core.errors import ConfigError
from apsara_core.models import Principal
from apsara_tui.screens.base import CoreScreen
from apsara_tui.widgets.confirm import ConfirmModal
from apsara_tui.widgets.forms import Check, Form, FormField, length, required

T = TypeVar("T")
NAME_MAX = 100  # as the core's ApiKeyService
SHOWN_ONCE = "Copy it now: it will not be shown again (ctrl+y copies it)."


def _is_duration(text: str) -> bool:
    try:
        parse_duration(text.strip())
    except ConfigError:
        return False
    return True


def duration_check() -> Check:
    """A lifetime such as 30d, 12h, 45m or 3600 (seconds)."""
    return Check(_is_duration, "Expected a duration like 30d, 12h, 45m or 3600")


def _when(value: datetime | None, empty: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return f"{value:{fmt}}" if value else empty


class CreateKeyModal(ModalScreen[dict[str, Any] | None]):
    """Name, optional expiry and read-only scope; dismisses the form's values or None."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Create", priority=True),
    ]

    def __init__(self, owner: str) -> None:
        super().__init__()
        self._owner = owner

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"New API key for {self._owner}", classes="modal-title", markup=False)
            yield Form(
                FormField(
                    "name",
                    "Name",
                    checks=[required("a name"), length(1, NAME_MAX, "The name")],
                    placeholder="what the key is for, e.g. nightly export",
                ),
                FormField(
                    "expires_in",
                    "Expires in",
                    checks=[duration_check()],
                    optional=True,
                    placeholder="e.g. 30d; empty: never",
                    aliases=["expiresIn"],
                ),
                Checkbox("read-only (GET requests only)", id="read_only"),
                submit="Create key",
                id="key-form",
                extra_buttons=[Button("Cancel", id="cancel")],
            )

    def on_mount(self) -> None:
        self.query_one(Form).field("name").input.focus()

    def on_form_submitted(self, event: Form.Submitted) -> None:
        event.stop()
        self.dismiss(event.values)

    def action_submit(self) -> None:
        """Check the fields and create (ctrl+s)."""
        self.query_one(Form).submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "cancel":
            event.stop()
            self.dismiss(None)

    def action_cancel(self) -> None:
        """Close without creating a key."""
        self.dismiss(None)


class KeyShownModal(ModalScreen[None]):
    """The new key, shown this once; ctrl+y copies it, Enter or escape closes."""

    BINDINGS = [
        Binding("ctrl+y", "copy", "Copy key", priority=True),
        Binding("escape,enter", "close", "Done"),
    ]

    def __init__(self, created: dict[str, Any]) -> None:
        super().__init__()
        self._created = created

    def compose(self) -> ComposeResult:
        created = self._created
        scope = "read-only" if created.get("readOnly") else "full access"
        expiry = _when(created.get("expiresAt"), "never expires", "expires %Y-%m-%d %H:%M UTC")
        with Vertical():
            yield Static(
                f"API key {created['name']!r} created ({scope}, {expiry})",
                classes="modal-title",
                markup=False,
            )
            yield Static(created["key"], id="key-value", markup=False)
            yield Static(SHOWN_ONCE, id="key-warning")
            yield Static("Send it as: Authorization: Bearer <key>", markup=False)
            with Horizontal():
                yield Button("Copy (ctrl+y)", id="copy")
                yield Button("Done", id="done", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#done", Button).focus()  # Enter closes

    def action_copy(self) -> None:
        """Put the key on the clipboard (OSC 52, as ctrl+y copies a reply in the chat)."""
        self.app.copy_to_clipboard(self._created["key"])
        self.notify("API key copied to the clipboard.", timeout=3)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "copy":
            self.action_copy()
        else:
            self.dismiss(None)

    def action_close(self) -> None:
        """Close: the key cannot be shown again."""
        self.dismiss(None)


class ApiKeysScreen(CoreScreen):
    """One user's API keys: name, created, last used, expiry, scope; n creates, d revokes."""

    NEEDS = ("user",)
    BINDINGS = [
        Binding("n", "create", "New key"),
        Binding("d", "revoke", "Revoke"),
        Binding("r", "refresh", "Refresh"),
    ]

    def __init__(self, user: dict[str, Any] | None = None) -> None:
        super().__init__()
        self._owner = user
        self._keys: dict[str, dict[str, Any]] = {}

    @property
    def owner(self) -> dict[str, Any]:
        """The user whose keys are shown: the one given, else the app's current user."""
        return self._owner or self.user or {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(
            f"API keys of {self.owner.get('email') or self.owner.get('_id')}: "
            "n new · d revoke · r refresh",
            id="summary",
            markup=False,
        )
        table: DataTable[str] = DataTable(id="keys", cursor_type="row", zebra_stripes=True)
        table.add_columns("name", "created", "last used", "expires", "scope")
        yield table
        yield Footer()

    def on_mount(self) -> None:
        if not self.title:
            self.title = "API keys"
        self.query_one(DataTable).focus()
        self.action_refresh()

    async def _as_owner(self, job: Callable[[Principal], Awaitable[T]]) -> T | None:
        """`job(actor)` acting on the owner's keys (the core's actor rule); errors notified."""

        async def run() -> T:
            actor = await self.core.sessions.resolve_actor(
                user=str(self.owner.get("_id") or ""), need_user=True
            )
            return await job(actor)

        return await self.call(run())

    def action_refresh(self) -> None:
        """Reload the keys."""
        self._load()

    @work(exclusive=True, group="keys")
    async def _load(self) -> None:
        keys = await self._as_owner(
            lambda me: self.core.api_keys.list(actor=me, user_id=me.user_id)
        )
        if keys is not None:
            self.show(keys)

    def show(self, keys: list[dict[str, Any]]) -> None:
        """Fill the table, one row per live key (never the key itself)."""
        self._keys = {k["id"]: k for k in keys}
        table = self.query_one(DataTable)
        table.clear()
        for key in keys:
            table.add_row(
                key["name"][:24],
                _when(key.get("createdAt"), "-", "%Y-%m-%d"),
                _when(key.get("lastUsedAt"), "never"),
                _when(key.get("expiresAt"), "never", "%Y-%m-%d"),
                "read-only" if key.get("readOnly") else "full",
                key=key["id"],
            )
        if not keys:
            self.query_one("#summary", Static).update(
                f"{self.owner.get('email') or 'This user'} has no API keys: n creates one."
            )

    def _selected(self) -> dict[str, Any] | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        row = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return self._keys.get(str(row.value))

    def action_create(self) -> None:
        """Ask for a name, expiry and scope, then create the key and show it once."""
        self._create()

    @work(exclusive=True, group="keys")
    async def _create(self) -> None:
        owner = str(self.owner.get("email") or self.owner.get("_id"))
        values = await self.app.push_screen_wait(CreateKeyModal(owner))
        if not values:
            return
        created = await self._as_owner(
            lambda me: self.core.api_keys.create(
                actor=me,
                name=values["name"],
                expires_in=values["expires_in"].strip() or None,
                read_only=bool(values["read_only"]),
            )
        )
        if created is None:
            return
        await self.app.push_screen_wait(KeyShownModal(created))
        self._load()

    def action_revoke(self) -> None:
        """Revoke the highlighted key, after a confirmation naming it."""
        key = self._selected()
        if key is None:
            self.notify("No key selected.", severity="warning")
            return
        self._revoke(key)

    @work(exclusive=True, group="keys")
    async def _revoke(self, key: dict[str, Any]) -> None:
        body = (
            f"Key {key['name']!r} ({key.get('prefix', '')}…, created "
            f"{_when(key.get('createdAt'), '-')}) stops working at once: scripts and apps "
            "that send it are refused. This cannot be undone."
        )
        if not await self.app.push_screen_wait(
            ConfirmModal(f"Revoke API key {key['name']!r}?", body, confirm="Revoke")
        ):
            return
        done = await self._as_owner(
            lambda me: self.core.api_keys.revoke(actor=me, key_id=key["id"])
        )
        if done is not None:
            self.notify(f"Revoked {key['name']!r}.", title="API key revoked")
            self._load()
