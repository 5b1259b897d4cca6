"""Conversation screens: create (1), list (2), choose (3), delete all (13), delete one (14).

The tables show the core's `ConversationView`s: listing, search (over every page) and the
owners' emails come from `core.conversations.browse`, the "delete all" counts from
`core.conversations.summary`; the screens only show them.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Footer, Header, Input, Label, Static, TextArea

from apsara_core.models import Principal
from apsara_core.models.views import ConversationPage, ConversationsSummary, ConversationView
from apsara_core.vocabulary import TITLE_MAX_LENGTH
from apsara_tui.keys import SEARCH_DEBOUNCE_S, TABLE_BINDINGS
from apsara_tui.screens.base import CoreScreen, Need
from apsara_tui.screens.chat_base import conversation_label
from apsara_tui.widgets.confirm import ConfirmModal
from apsara_tui.widgets.forms import Form, FormField, length, required

PAGE = 50


def _when(value: Any) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if hasattr(value, "strftime") else ""


def summary_text(scope: str, found: ConversationsSummary) -> str:
    """`ada@example.com's conversations: 3 with 42 messages: “A”, “B”, “C”` (with "at least"
    when the core stopped counting)."""
    least = "at least " if found.at_least else ""
    titles = ", ".join(f"“{t}”" for t in found.titles)
    rest = found.conversations - len(found.titles)
    more = f" and {least}{rest} more" if rest > 0 else ""
    return (
        f"{scope} conversations: {least}{found.conversations} with {least}{found.messages} "
        "messages" + (f":\n{titles}{more}" if titles else ".")
    )


class CreateConversationScreen(CoreScreen):
    """Action 1: a title and an optional system instruction for the chosen user."""

    NEEDS: ClassVar[tuple[Need, ...]] = ("user",)
    BINDINGS = [Binding("ctrl+s", "create", "Create")]

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="create-conversation"):
            yield Static(f"New conversation for {(self.user or {}).get('email')}", classes="intro")
            yield Form(
                FormField(
                    "title",
                    "Title",
                    checks=[required("a title"), length(1, TITLE_MAX_LENGTH, "The title")],
                ),
                Label("System instruction (optional; fixed once the first message exists)"),
                TextArea(id="system-instruction", soft_wrap=True),
                submit="Create (ctrl+s)",
                id="conversation-form",
            )
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#input-title", Input).focus()

    def action_create(self) -> None:
        """Submit the form."""
        self.query_one(Form).submit()

    @on(Form.Submitted)
    def _submitted(self, event: Form.Submitted) -> None:
        system = self.query_one("#system-instruction", TextArea).text.strip() or None
        self.create(event.values["title"], system)

    @work(exclusive=True)
    async def create(self, title: str, system_instruction: str | None) -> None:
        """Create the conversation and make it the current one."""
        form = self.query_one(Form)

        async def job(me: Principal) -> ConversationView:
            conv = await form.guard(
                self.core.conversations.create(
                    actor=me, title=title, system_instruction=system_instruction
                )
            )
            return await self.core.conversations.view(
                actor=me, conversation_id=conv["conversationId"]
            )

        view = await self.call_as(job, for_user=True)
        if view:
            self.apsara.current_conversation = view
            self.notify(
                f"Created “{view.title}”; it is now the current conversation.", title="Created"
            )
            self.dismiss()


class ConversationTableScreen(CoreScreen):
    """A searchable, paged table of conversations; subclasses say what Enter does."""

    HINT = ""
    BINDINGS = TABLE_BINDINGS

    def __init__(self) -> None:
        super().__init__()
        self.skip = 0
        self.shown: ConversationPage | None = None
        self._searched: str | None = None

    def scope_user_id(self) -> str | None:
        """Whose conversations are listed (None: everyone's)."""
        return (self.user or {}).get("_id")

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="/ search: title, conversation id or owner email", id="search")
        yield DataTable(id="conversations", cursor_type="row", zebra_stripes=True)
        yield Static(self.HINT, id="table-info", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Title", "Messages", "Updated", "User", "Id")
        table.focus()
        self.reload()

    @work(exclusive=True, group="load")
    async def reload(self) -> None:
        """Fetch the current page (searched in the core) and show it."""
        text = self.query_one("#search", Input).value.strip() or None
        if text != self._searched:  # typing: wait for a pause before querying
            await asyncio.sleep(SEARCH_DEBOUNCE_S)
        page = await self.call_as(
            lambda me: self.core.conversations.browse(
                actor=me, user_id=self.scope_user_id(), search=text, limit=PAGE, skip=self.skip
            )
        )
        if page is not None:
            self._searched, self.shown = text, page
            self.show(page)

    def show(self, page: ConversationPage) -> None:
        """Fill the table with one page of views."""
        table = self.query_one(DataTable)
        table.clear()
        for conv in page.items:
            table.add_row(
                conv.title,
                str(conv.message_count),
                _when(conv.updated_at),
                conv.owner,
                conv.conversation_id,
                key=conv.conversation_id,
            )
        whose = "the chosen user's" if self.scope_user_id() else "all users'"
        found = f"{page.skip + 1}–{page.skip + len(page.items)}" if page.items else "none"
        match = f" matching “{page.search}”" if page.search else ""
        more = ", more follow" if page.has_more else ""
        self.query_one("#table-info", Static).update(
            f"Page {page.number}: {found}{more} ({whose}{match}). {self.HINT}"
        )

    @on(Input.Changed, "#search")
    def _search(self) -> None:
        self.skip = 0
        self.reload()

    @on(Input.Submitted, "#search")
    def _to_table(self) -> None:
        self.query_one(DataTable).focus()

    def action_page(self, step: int) -> None:
        """Next or previous page."""
        page = self.shown
        if page is None or (step > 0 and not page.has_more) or (step < 0 and self.skip == 0):
            self.notify("No more pages that way.", timeout=2)
            return
        self.skip = max(0, self.skip + step * PAGE)
        self.reload()

    def action_search(self) -> None:
        """Focus the search box."""
        self.query_one("#search", Input).focus()

    def selected(self) -> ConversationView | None:
        """The conversation under the cursor."""
        table = self.query_one(DataTable)
        if not table.row_count or self.shown is None:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((c for c in self.shown.items if c.conversation_id == key), None)

    @on(DataTable.RowSelected)
    def _row_selected(self) -> None:
        if (conv := self.selected()) is not None:
            self.picked(conv)

    def picked(self, conv: ConversationView) -> None:
        """Enter on a row: show its details."""
        self.query_one("#table-info", Static).update(
            f"{conversation_label(conv)} · {conv.owner} · created {_when(conv.created_at)} · "
            f"system: {conv.system_instruction or 'none'}"
        )


class ConversationListScreen(ConversationTableScreen):
    """Action 2: every user's conversations, or the chosen user's (a toggles)."""

    HINT = "Enter: details · a: all users / chosen user."
    BINDINGS = [Binding("a", "toggle_scope", "All/one user")]

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

    NEEDS: ClassVar[tuple[Need, ...]] = ("user",)
    HINT = "Enter chooses."

    def picked(self, conv: ConversationView) -> None:
        self.apsara.current_conversation = conv
        self.notify(f"Current conversation: {conversation_label(conv)}", title="Chosen")
        self.dismiss()


class DeleteConversationScreen(ConversationTableScreen):
    """Action 14: delete one conversation and its messages, after confirmation."""

    HINT = "Enter deletes (asks first)."

    def picked(self, conv: ConversationView) -> None:
        body = (
            f"“{conv.title}” ({conv.conversation_id}) of {conv.owner} and its "
            f"{conv.message_count} messages will be deleted. This cannot be undone."
        )
        self.app.push_screen(
            ConfirmModal("Delete this conversation?", body),
            lambda yes: self.delete(conv) if yes else None,
        )

    @work(exclusive=True, group="delete")
    async def delete(self, conv: ConversationView) -> None:
        """Delete `conv`; forget it if it was the current conversation."""
        done = await self.call_as(
            lambda me: self.core.conversations.delete(
                actor=me, conversation_id=conv.conversation_id
            )
        )
        if done is None:
            return
        current = self.apsara.current_conversation
        if current and current.conversation_id == conv.conversation_id:
            self.apsara.current_conversation = None
        self.notify(
            f"Deleted “{conv.title}” and {done.get('messages', 0)} messages.", title="Deleted"
        )
        self.reload()


class DeleteAllConversationsScreen(CoreScreen):
    """Action 13: delete every conversation of the chosen user (or of everyone), after confirmation."""

    BINDINGS = [Binding("d", "delete_all", "Delete all…")]

    def __init__(self) -> None:
        super().__init__()
        self.found: ConversationsSummary | None = None

    @property
    def scope_user_id(self) -> str | None:
        """Whose conversations go (None: everyone's)."""
        return (self.user or {}).get("_id")

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
        """Count what would go (the core counts; it reads no more than it must)."""
        found = await self.call_as(
            lambda me: self.core.conversations.summary(actor=me, user_id=self.scope_user_id)
        )
        if found is not None:
            self.found = found
            self.query_one("#delete-all-summary", Static).update(
                summary_text(self.scope, found) + "\n\nPress d to delete them all."
            )

    def action_delete_all(self) -> None:
        """Ask, naming what will go, then delete."""
        if self.found is None or not self.found.conversations:
            self.notify("There is nothing to delete.", severity="information")
            return
        self.app.push_screen(
            ConfirmModal(
                f"Delete {self.scope} conversations?",
                summary_text(self.scope, self.found) + "\n\nThis cannot be undone.",
                confirm="Delete all",
            ),
            lambda yes: self.delete_all() if yes else None,
        )

    @work(exclusive=True, group="delete")
    async def delete_all(self) -> None:
        """Delete them and say how many went."""
        done = await self.call_as(
            lambda me: self.core.conversations.delete_all(actor=me, user_id=self.scope_user_id)
        )
        if done is None:
            return
        current = self.apsara.current_conversation
        if current and self.scope_user_id in (None, current.user_id):
            self.apsara.current_conversation = None
        self.notify(
            f"Deleted {done.get('conversations', 0)} conversations and "
            f"{done.get('messages', 0)} messages.",
            title="Deleted",
        )
        self.count()
