"""ApsaraApp: wiring only. It holds the Core and the operator's context (user, conversation).

`ApsaraApp(core=core)` runs over an open Core (tests, embedding). `ApsaraApp()` paints its
first frame at once and opens the Core in a worker: settings, the embedded server and the
database connection load behind the home screen. If that fails, the app exits with code 1 and
the error's one line.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.reactive import reactive
from textual.screen import Screen

from apsara_tui.actions import BY_NUMBER, Action
from apsara_tui.palette import ActionsProvider

if TYPE_CHECKING:
    from apsara_core.core import Core
    from apsara_core.models.views import ConversationView
    from apsara_tui.screens.base import CoreScreen

NOTICE_TIMEOUT_S: dict[str, float] = {"information": 3.0, "warning": 4.0, "error": 6.0}
"""How long a toast stays when the caller gives no timeout. Toasts sit at the top right, under
the header (app.tcss), so at 80×24 they do not cover the result lines near the footer."""
HEADER_CHROME = 4
"""Columns of the header that are not its text (the icon and the right margin, app.tcss)."""


def fit_subtitle(user: str | None, conversation: str, db: str, room: int) -> str:
    """The header's subtitle in `room` columns: user · conversation · db, dropping the db
    label first, then shortening the email to its name, so the conversation's title is whole
    whenever it fits."""
    if not user:
        return f"db {db} · no user"
    conv = conversation or "no conversation"
    local = user.split("@")[0]
    for text in (f"{user} · {conv} · db {db}", f"{user} · {conv}", f"{local} · {conv}"):
        if len(text) <= room:
            return text
    return f"{conv} · {local}"  # too narrow even so: the title first, cut at the end


class ApsaraApp(App[None]):
    """The full-screen operator app over one `Core`."""

    TITLE = "Apsara"
    CSS_PATH = str(Path(__file__).with_name("app.tcss"))
    COMMANDS = App.COMMANDS | {ActionsProvider}
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("f1", "help", "Help"),
        Binding("question_mark", "help", "Help", show=False, key_display="?"),
    ]

    current_user: reactive[dict[str, Any] | None] = reactive(None)
    current_conversation: reactive[ConversationView | None] = reactive(None)
    core_ready: reactive[bool] = reactive(False)

    def __init__(self, core: Core | None = None) -> None:
        super().__init__()
        self._core = core
        self.owns_core = core is None

    @property
    def core(self) -> Core:
        """The open Core (screens are only opened once it is ready)."""
        if self._core is None:
            raise RuntimeError("the Core is not open yet")
        return self._core

    def get_default_screen(self) -> Screen[Any]:
        from apsara_tui.screens.home import HomeScreen

        return HomeScreen()

    def on_mount(self) -> None:
        self.update_subtitle()
        if self._core is None:
            self.call_after_refresh(self._open_core)  # paint first, then load
        else:
            self._core_opened()

    @work(exclusive=True, group="core")
    async def _open_core(self) -> None:
        import asyncio

        from apsara_core.errors import ApsaraError
        from apsara_tui.errors import describe

        try:
            settings, open_core = await asyncio.to_thread(_load_settings)
            self._core = await open_core(settings)
        except ApsaraError as exc:
            self.exit(return_code=1, message="\n".join(describe(exc).console_lines()))
            return
        self._core_opened()

    def _core_opened(self) -> None:
        if self._core is not None:  # after the first frame: the SDK import and connection
            if self.owns_core:  # a Core handed in is its owner's to maintain
                self._core.start_maintenance()
            self.run_worker(self._core.warm_up(), group="warm", exit_on_error=False)
        self.core_ready = True
        self.update_subtitle()
        self.restore_session()

    @work(exclusive=True, group="session")
    async def restore_session(self) -> None:
        """Show the logged-in user of the session file, when its token is still valid."""
        from apsara_tui.screens.sessions import restore_session

        await restore_session(self)

    async def on_unmount(self) -> None:
        if self.owns_core and self._core is not None:
            await self._core.close()

    def watch_current_user(self) -> None:
        # Another user (or none, after logout): the previous user's conversation is not current.
        conv, user = self.current_conversation, self.current_user or {}
        if conv is not None and conv.user_id != str(user.get("_id")):
            self.current_conversation = None
        self.update_subtitle()

    def watch_current_conversation(self) -> None:
        self.update_subtitle()

    def on_resize(self) -> None:
        self.update_subtitle()

    def update_subtitle(self) -> None:
        """Fit the subtitle to the header's room beside the current screen's title (called
        again on resize and when a screen is shown: see CoreScreen.on_screen_resume)."""
        db = self._core.target.label if self._core else "connecting…"
        user = (self.current_user or {}).get("email")
        conv = self.current_conversation.title if self.current_conversation else ""
        title = (self.screen.title if self.screen_stack else None) or self.title
        room = self.size.width - HEADER_CHROME - len(title) - 3  # " — " between them
        self.sub_title = fit_subtitle(user, conv, db, room)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """A notification; without a timeout it leaves after NOTICE_TIMEOUT_S of its severity
        (the screens' result lines say the same, and stay)."""
        if timeout is None:
            timeout = NOTICE_TIMEOUT_S.get(severity, NOTICE_TIMEOUT_S["information"])
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def action_help(self) -> None:
        """Show every key of the current screen and the app-wide ones (F1 or ?)."""
        from apsara_tui.widgets.help import HelpModal, key_rows

        screen = self.screen
        if isinstance(screen, HelpModal):
            return
        title = screen.title or "Home: the 21 actions"
        self.push_screen(HelpModal(title, *key_rows(screen)))

    # Leaving or quitting while a reply streams asks first (the screen's `replying`).
    async def action_pop_screen(self) -> None:
        """Back (escape); a screen with a reply streaming asks first."""
        if getattr(self.screen, "replying", False):
            self._ask_to_stop("leave", self.pop_screen)
            return
        await super().action_pop_screen()

    async def action_quit(self) -> None:
        """Quit (ctrl+q); a reply streaming on any screen asks first."""
        if any(getattr(s, "replying", False) for s in self.screen_stack):
            self._ask_to_stop("quit", self.exit)
            return
        await super().action_quit()

    def _ask_to_stop(self, verb: str, then: Callable[[], Any]) -> None:
        from apsara_tui.widgets.confirm import ConfirmModal

        screens = [s for s in self.screen_stack if getattr(s, "replying", False)]

        async def stop_then() -> None:
            for screen in screens:
                await cast(Any, screen).stop_reply()
            then()

        body = (
            f"A reply is still streaming. Stop it and {verb}? What has arrived is kept, "
            "marked interrupted."
        )
        self.push_screen(
            ConfirmModal(f"Stop the reply and {verb}?", body, confirm=f"Stop and {verb}"),
            lambda yes: self.run_worker(stop_then(), group="leave") if yes else None,
        )

    def open_action(self, number: int) -> None:
        """Open management action `number`, or say why it is unavailable: not built, the
        database still connecting, or what must be chosen first (the screen's `NEEDS`)."""
        action = BY_NUMBER.get(number)
        if action is None:
            self.notify(f"There is no action {number}; choose 1–21.", severity="warning")
            return
        if action.screen == "exit":
            self.exit()
            return
        if not action.enabled:
            self.notify(
                f"{action.number}. {action.title}: {action.unavailable}",
                title="Unavailable",
                severity="warning",
            )
            return
        if not self.core_ready:
            self.notify("Still connecting to the database…", severity="warning")
            return
        screen_class = self._screen_class(action)
        if (why := screen_class.unmet(self)) is not None:
            self.notify(why, title=f"{action.number}. {action.title}", severity="warning")
            return
        screen = screen_class()
        screen.title = f"{action.number}. {action.title}"  # the header names the action
        self.push_screen(screen)

    def action_open_keys(self) -> None:
        """Open the current user's API keys (Home's `k`), or say what must be chosen first."""
        from apsara_tui.screens.api_keys import ApiKeysScreen

        if not self.core_ready:
            self.notify("Still connecting to the database…", severity="warning")
            return
        if (why := ApiKeysScreen.unmet(self)) is not None:
            self.notify(why, title="API keys", severity="warning")
            return
        self.push_screen(ApiKeysScreen())

    @staticmethod
    def _screen_class(action: Action) -> type[CoreScreen]:
        module_name, class_name = (action.screen or "").split(":")
        module = importlib.import_module(f"apsara_tui.screens.{module_name}")
        return getattr(module, class_name)


def _load_settings() -> tuple[Any, Any]:
    """Import the heavy modules and read settings, off the UI loop."""
    from apsara_core.config import Settings
    from apsara_core.core import open_core

    return Settings.load(), open_core
