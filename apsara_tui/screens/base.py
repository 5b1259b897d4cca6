"""CoreScreen: a screen that calls the Core, says what it needs, and turns errors into
notifications.

A screen declares what must be chosen before it can work (`NEEDS`: a current user, a current
conversation); the app checks that once, in `ApsaraApp.open_action`, before the screen is
pushed, so no screen guards its own actions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar, cast

from textual.binding import Binding
from textual.screen import Screen

from apsara_core.errors import ApsaraError
from apsara_tui.errors import Described, describe

if TYPE_CHECKING:
    from apsara_core.core import Core
    from apsara_core.models import Principal
    from apsara_core.models.views import ConversationView
    from apsara_tui.app import ApsaraApp

T = TypeVar("T")
Need = Literal["user", "conversation"]

NO_USER = "Choose a user first (action 10)."
NO_CONVERSATION = "Choose a conversation first (action 3), or create one (action 1)."
NOT_THEIRS = (
    "The current conversation belongs to another user: choose one of this user's (action 3)."
)


def unmet_needs(
    needs: tuple[Need, ...], user: dict[str, Any] | None, conversation: ConversationView | None
) -> str | None:
    """Why a screen needing `needs` cannot open with this user and conversation, or None.

    A conversation is always needed together with its owner as the current user.
    """
    if not needs:
        return None
    if not user:
        return NO_USER
    if "conversation" in needs:
        if conversation is None:
            return NO_CONVERSATION
        if conversation.user_id != str(user.get("_id")):
            return NOT_THEIRS
    return None


class CoreScreen(Screen[Any]):
    """Base for action screens: escape goes back; `call` never lets an error crash the app."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]
    NEEDS: ClassVar[tuple[Need, ...]] = ()
    """What must be chosen before the screen opens (checked by `ApsaraApp.open_action`)."""

    def on_screen_resume(self) -> None:
        # The header's subtitle is fitted beside this screen's title.
        self.apsara.update_subtitle()

    @classmethod
    def unmet(cls, app: ApsaraApp) -> str | None:
        """Why this screen cannot open now (see `NEEDS`), or None."""
        return unmet_needs(cls.NEEDS, app.current_user, app.current_conversation)

    @property
    def apsara(self) -> ApsaraApp:
        """The app, typed."""
        return cast("ApsaraApp", self.app)

    @property
    def core(self) -> Core:
        """The Core the app holds."""
        return self.apsara.core

    @property
    def user(self) -> dict[str, Any] | None:
        """The app's current user document, if any."""
        return self.apsara.current_user

    def report(self, exc: BaseException) -> Described:
        """Notify about `exc` (never raise) and return its description."""
        described = describe(exc)
        if not isinstance(exc, ApsaraError):
            self.log.error(repr(exc))
        self.notify(described.text(), title=described.title, severity=described.severity)
        return described

    async def call(self, awaitable: Awaitable[T]) -> T | None:
        """Await a core call; on failure notify the user and return None."""
        try:
            return await awaitable
        except Exception as exc:  # noqa: BLE001 - an operator tool must not crash
            self.report(exc)
        return None

    async def acting(self, *, for_user: bool = False) -> Principal:
        """Who this screen acts as: the core's one actor rule. `for_user`: on the app's
        current user's data (that user, when the rule allows it).

        Raises:
            ApsaraError: no user chosen (for_user), an unusable session, or a session that
                may not act for the current user.
        """
        user = str((self.apsara.current_user or {}).get("_id") or "") if for_user else None
        return await self.core.sessions.resolve_actor(user=user or None, need_user=for_user)

    async def call_as(
        self, job: Callable[[Principal], Awaitable[T]], *, for_user: bool = False
    ) -> T | None:
        """`call(job(actor))` with the actor resolved first; any failure is notified."""

        async def run() -> T:
            return await job(await self.acting(for_user=for_user))

        return await self.call(run())
