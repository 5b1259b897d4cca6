"""The app's view of this machine's session: the core's `SessionService` owns the session
file and the rules; these helpers only keep `app.current_user` (what the header shows) in step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from apsara_core.errors import ApsaraError

if TYPE_CHECKING:
    from apsara_core.services.auth_tokens import Session
    from apsara_tui.app import ApsaraApp


def adopt_session(app: ApsaraApp, session: Session) -> None:
    """A sign-in the core has stored: its user becomes the current user."""
    app.current_user = session.user


async def end_session(app: ApsaraApp, *, everywhere: bool = False) -> str:
    """Sign out through the core (revoke, delete the file) and clear the current user.

    Returns:
        The email (or id) of the user logged out, or "" when no session was stored.

    Raises:
        ApsaraError: the core could not sign out (see `SessionService.sign_out`).
    """
    done = await app.core.sessions.sign_out(everywhere=everywhere)
    app.current_user = None
    return done.who or ""


def forget_user(app: ApsaraApp, user_id: str) -> bool:
    """After a user is deleted or their sessions end: drop their session file and stop
    showing them as the current user."""
    dropped = app.core.sessions.forget(user_id)
    if app.current_user and str(app.current_user.get("_id")) == user_id:
        app.current_user = None
        dropped = True
    return dropped


async def restore_session(app: ApsaraApp) -> None:
    """On start: when a stored session verifies, make its user the current user."""
    core = app.core
    stored = core.sessions.stored()
    if stored is None:
        return
    try:
        principal = await core.sessions.resolve_actor()
        user: dict[str, Any] = await core.users.get(actor=principal, user=principal.user_id)
    except ApsaraError as exc:
        app.notify(
            f"The saved session of {stored.email or stored.user_id} is no longer valid "
            f"({exc.message}). Log in again with action 15, or log out (16) to act as "
            "admin.",
            title="Session",
            severity="warning",
        )
        return
    except Exception as exc:  # noqa: BLE001 - a bad session file must never stop the app
        app.log.error(f"session restore failed: {exc!r}")
        return
    if app.current_user is None:  # the operator may already have chosen someone
        app.current_user = user
