"""CoreScreen: a screen that calls the Core and turns errors into notifications."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from textual.binding import Binding
from textual.screen import Screen

from apsara_core.errors import ApsaraError

if TYPE_CHECKING:
    from apsara_core.core import Core
    from apsara_core.models import Principal
    from apsara_tui.app import ApsaraApp

T = TypeVar("T")


class CoreScreen(Screen[Any]):
    """Base for action screens: escape goes back; `call` never lets an error crash the app."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]

    @property
    def apsara(self) -> "ApsaraApp":
        """The app, typed."""
        return cast("ApsaraApp", self.app)

    @property
    def core(self) -> "Core":
        """The Core the app holds."""
        return self.apsara.core

    async def call(self, awaitable: Awaitable[T]) -> T | None:
        """Await a core call; on failure notify the user and return None."""
        try:
            return await awaitable
        except ApsaraError as exc:
            hint = f"\n→ {exc.suggestions[0]}" if exc.suggestions else ""
            self.notify(f"{exc.message}{hint}", title=exc.title, severity="error", timeout=8)
        except Exception as exc:  # noqa: BLE001 - an operator tool must not crash
            self.log.error(repr(exc))
            self.notify(f"Unexpected error: {exc}", title="Error", severity="error", timeout=8)
        return None

    async def acting(self, *, for_user: bool = False) -> "Principal":
        """Who this screen acts as: the core's one actor rule. `for_user`: on the app's
        current user's data (that user, when the rule allows it).

        Raises:
            ApsaraError: no user chosen (for_user), an unusable session, or a session that
                may not act for the current user.
        """
        user = str((self.apsara.current_user or {}).get("_id") or "") if for_user else None
        return await self.core.sessions.resolve_actor(user=user or None, need_user=for_user)

    async def call_as(self, job: "Callable[[Principal], Awaitable[T]]", *,
                      for_user: bool = False) -> T | None:
        """`call(job(actor))` with the actor resolved first; any failure is notified."""

        async def run() -> T:
            return await job(await self.acting(for_user=for_user))

        return await self.call(run())
