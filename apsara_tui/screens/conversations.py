"""Conversation screens: create (1), list (2), choose (3), delete all (13), delete one (14)."""

from __future__ import annotations

from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Footer, Header, Input, Label, Static, TextArea

from apsara_core.errors import ApsaraError
from apsara_core.models import Principal
from apsara_core.vocabulary import TITLE_MAX_LENGTH
from apsara_tui.screens.chat_base import ChatBaseScreen, conversation_label
from apsara_tui.widgets.confirm import ConfirmModal
from apsara_tui.widgets.forms import Form, FormField, length, required

PAGE = 50
LISTED_TITLES = 10


def _matches(conv: dict[str, Any], needle: str, emails: dict[str, str]) -> bool:
    owner = str(conv.get("userId", ""))
    hay = f"{conv.get('title', '')} {conv.get('conversationId', '')} {owner} {emails.get(owner, '')}"
    return needle.lower() in hay.lower()


def _when(value: Any) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if hasattr(value, "strftime") else str(value or "")


class CreateConversationScreen(ChatBaseScreen):
    """Action 1: a title and an optional system instruction for the chosen user."""

    NEEDS_CONVERSATION = False
    BINDINGS = [Binding("escape", "app.pop_screen", "Back"), Binding("ctrl+s", "create", "Create")]

    def compose(self) -> ComposeResult:
        yield Header()
        if self.missing():
            yield self.placeholder()
        else:
            with Vertical(id="create-conversation"):
                yield Static(f"New conversation for {self.user.get('email')}", classes="intro")
                yield Form(FormField("title", "Title", checks=[required("a title"),
                                                               length(1, TITLE_MAX_LENGTH, "The title")]),
                           Label("System instruction (optional; fixed once the first message exists)"),
                           TextArea(id="system-instruction", soft_wrap=True),
                           submit="Create (ctrl+s)", id="conversation-form")
        yield Footer()

    def on_mount(self) -> None:
        if not self.missing():
            self.query_one("#input-title", Input).focus()

    def action_create(self) -> None:
        """Submit the form."""
        if not self.missing():
            self.query_one(Form).submit()

    @on(Form.Submitted)
    def _submitted(self, event: Form.Submitted) -> None:
        system = self.query_one("#system-instruction", TextArea).text.strip() or None
        self.create(event.values["title"], system)

    @work(exclusive=True)
    async def create(self, title: str, system_instruction: str | None) -> None:
        """Create the conversation and make it the current one."""
        form = self.query_one(Form)
        conv = await self.call_as(lambda me: form.guard(self.core.conversations.create(
            actor=me, title=title, system_instruction=system_instruction)), for_user=True)
        if conv:
            self.apsara.current_conversation = conv
            self.notify(f"Created “{conv['title']}”; it is now the current conversation.", title="Created")
            self.dismiss()


class ConversationTableScreen(ChatBaseScreen):
    """A searchable, paged table of conversations; subclasses say what Enter does."""

    NEEDS_CONVERSATION = False
    NEEDS_USER = False
    HINT = ""
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("pagedown,ctrl+n", "page(1)", "Next page"),
        Binding("pageup,ctrl+b", "page(-1)", "Prev page"),
        Binding("ctrl+f", "focus_search", "Search"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.skip = 0
        self.items: list[dict[str, Any]] = []
        self.emails: dict[str, str] = {}

    def missing(self) -> str | None:
        return super().missing() if self.NEEDS_USER else None

    def scope_user_id(self) -> str | None:
        """Whose conversations are listed (None: everyone's)."""
        return (self.user or {}).get("_id")

    def compose(self) -> ComposeResult:
        yield Header()
        if self.missing():
            yield self.placeholder()
        else:
            yield Input(placeholder="Search title, id or owner email", id="search")
            yield DataTable(id="conversations", cursor_type="row", zebra_stripes=True)
            yield Static(self.HINT, id="table-info", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        if not self.missing():
            table = self.query_one(DataTable)
            table.add_columns("Title", "Messages", "Updated", "User", "Id")
            table.focus()
            self.reload()

    @work(exclusive=True, group="load")
    async def reload(self) -> None:
        """Fetch the current page and show it."""
        me = await self.call(self.acting())
        if me is None:
            return
        items = await self.call(self.core.conversations.list(
            actor=me, user_id=self.scope_user_id(), limit=PAGE, skip=self.skip))
        self.items = items or []
        await self._resolve_emails(me)
        self.show()

    async def _resolve_emails(self, me: Principal) -> None:
        """Owner emails of the page's conversations (the id stays when a user is gone)."""
        for user_id in {str(c.get("userId")) for c in self.items} - self.emails.keys():
            try:
                user = await self.core.users.get(actor=me, user=user_id)
                self.emails[user_id] = user.get("email") or user_id
            except ApsaraError:
                self.emails[user_id] = user_id

    def show(self) -> None:
        """Fill the table with the page's rows that match the search."""
        needle = self.query_one("#search", Input).value.strip()
        table = self.query_one(DataTable)
        table.clear()
        shown = [c for c in self.items if not needle or _matches(c, needle, self.emails)]
        for conv in shown:
            stats = conv.get("stats") or {}
            table.add_row(conv.get("title", ""), str(stats.get("totalMessages", 0)),
                          _when(conv.get("updatedAt")), self.emails.get(str(conv.get("userId")), ""),
                          conv["conversationId"], key=conv["conversationId"])
        whose = "the chosen user's" if self.scope_user_id() else "all users'"
        page = self.skip // PAGE + 1
        self.query_one("#table-info", Static).update(
            f"{len(shown)} of {len(self.items)} on page {page} ({whose}). {self.HINT}")

    @on(Input.Changed, "#search")
    def _search(self) -> None:
        self.show()

    @on(Input.Submitted, "#search")
    def _to_table(self) -> None:
        self.query_one(DataTable).focus()

    def action_page(self, step: int) -> None:
        """Next or previous page."""
        if self.missing() or (step > 0 and len(self.items) < PAGE) or (step < 0 and self.skip == 0):
            return
        self.skip = max(0, self.skip + step * PAGE)
        self.reload()

    def action_focus_search(self) -> None:
        """Focus the search box."""
        if not self.missing():
            self.query_one("#search", Input).focus()

    def selected(self) -> dict[str, Any] | None:
        """The conversation under the cursor."""
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((c for c in self.items if c["conversationId"] == key), None)

    @on(DataTable.RowSelected)
    def _row_selected(self) -> None:
        if (conv := self.selected()) is not None:
            self.picked(conv)

    def picked(self, conv: dict[str, Any]) -> None:
        """Enter on a row: show its details."""
        system = ((conv.get("config") or {}).get("systemInstruction")) or "none"
        self.query_one("#table-info", Static).update(
            f"{conversation_label(conv)} · created {_when(conv.get('createdAt'))} · system: {system}")


class ConversationListScreen(ConversationTableScreen):
    """Action 2: every user's conversations, or the chosen user's (a toggles)."""

    HINT = "ctrl+a: all users / chosen user."
    BINDINGS = [Binding("ctrl+a", "toggle_scope", "All/one user")]

    def __init__(self) -> None:
        super().__init__()
        self.all_users = True

    def scope_user_id(self) -> str | None:
        return None if self.all_users or not self.user else self.user.get("_id")

    def action_toggle_scope(self) -> None:
        """Switch between all users and the chosen user."""
        if not self.user:
            self.notify("No user is chosen (action 10); listing all users'.", severity="warning")
            return
        self.all_users, self.skip = not self.all_users, 0
        self.reload()


class ChooseConversationScreen(ConversationTableScreen):
    """Action 3: pick one of the chosen user's conversations as the current one."""

    NEEDS_USER = True
    HINT = "Enter chooses."

    def picked(self, conv: dict[str, Any]) -> None:
        self.apsara.current_conversation = conv
        self.notify(f"Current conversation: {conversation_label(conv)}", title="Chosen")
        self.dismiss()


class DeleteConversationScreen(ConversationTableScreen):
    """Action 14: delete one conversation and its messages, after confirmation."""

    HINT = "Enter deletes (asks first)."

    def picked(self, conv: dict[str, Any]) -> None:
        count = (conv.get("stats") or {}).get("totalMessages", 0)
        body = (f"“{conv.get('title')}” ({conv['conversationId']}) and its {count} messages "
                "will be deleted. This cannot be undone.")
        self.app.push_screen(ConfirmModal("Delete this conversation?", body),
                             lambda yes: self.delete(conv) if yes else None)

    @work(exclusive=True, group="delete")
    async def delete(self, conv: dict[str, Any]) -> None:
        """Delete `conv`; forget it if it was the current conversation."""
        done = await self.call_as(lambda me: self.core.conversations.delete(
            actor=me, conversation_id=conv["conversationId"]))
        if done is None:
            return
        if self.conversation_id == conv["conversationId"]:
            self.apsara.current_conversation = None
        self.notify(f"Deleted “{conv.get('title')}” and {done.get('messages', 0)} messages.", title="Deleted")
        self.reload()


class DeleteAllConversationsScreen(ChatBaseScreen):
    """Action 13: delete every conversation of the chosen user (or of everyone), after confirmation."""

    NEEDS_CONVERSATION = False
    BINDINGS = [Binding("escape", "app.pop_screen", "Back"), Binding("d", "delete_all", "Delete all…")]

    def __init__(self) -> None:
        super().__init__()
        self.found: list[dict[str, Any]] = []

    def missing(self) -> str | None:
        return None

    @property
    def scope(self) -> str:
        """Whose conversations go, in words."""
        return f"{self.user.get('email')}'s" if self.user else "ALL users'"

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Counting…", id="delete-all-summary", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.count()

    @work(exclusive=True, group="count")
    async def count(self) -> None:
        """Count what would go: conversations, messages, and the first titles."""
        user_id = (self.user or {}).get("_id")
        found: list[dict[str, Any]] = []
        me = await self.call(self.acting())
        while me is not None and len(found) < 10_000:
            page = await self.call(self.core.conversations.list(
                actor=me, user_id=user_id, limit=500, skip=len(found)))
            found += page or []
            if not page or len(page) < 500:
                break
        self.found = found
        self.query_one("#delete-all-summary", Static).update(self.summary() + "\n\nPress d to delete them all.")

    def summary(self) -> str:
        """`3 conversations with 42 messages (A, B, C)`."""
        messages = sum((c.get("stats") or {}).get("totalMessages", 0) for c in self.found)
        titles = ", ".join(f"“{c.get('title')}”" for c in self.found[:LISTED_TITLES])
        more = f" and {len(self.found) - LISTED_TITLES} more" if len(self.found) > LISTED_TITLES else ""
        return (f"{self.scope} conversations: {len(self.found)} with {messages} messages"
                + (f":\n{titles}{more}" if titles else "."))

    def action_delete_all(self) -> None:
        """Ask, naming what will go, then delete."""
        if not self.found:
            self.notify("There is nothing to delete.", severity="information")
            return
        self.app.push_screen(ConfirmModal(f"Delete {self.scope} conversations?",
                                          self.summary() + "\n\nThis cannot be undone.", confirm="Delete all"),
                             lambda yes: self.delete_all() if yes else None)

    @work(exclusive=True, group="delete")
    async def delete_all(self) -> None:
        """Delete them and say how many went."""
        done = await self.call_as(lambda me: self.core.conversations.delete_all(
            actor=me, user_id=(self.user or {}).get("_id")))
        if done is None:
            return
        self.apsara.current_conversation = None
        self.notify(f"Deleted {done.get('conversations', 0)} conversations and "
                    f"{done.get('messages', 0)} messages.", title="Deleted")
        self.count()
