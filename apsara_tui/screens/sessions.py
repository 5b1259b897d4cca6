"""The operator's session in the app: adopt a new one, find the active one, end it, restore it.

The token lives in `<data dir>/session.json` (mode 0600), shared with `apsara auth login`;
`app.current_user` holds the public user dict the header shows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from apsara_core.errors import ApsaraError
from apsara_core.models import Principal
from apsara_core.session_file import (StoredSession, active_session, delete_session, read_session,
                                      write_session)

if TYPE_CHECKING:
    from apsara_core.services.auth import Session
    from apsara_tui.app import ApsaraApp


def adopt_session(app: "ApsaraApp", session: "Session") -> None:
    """Store a fresh session's token (mode 0600) and make its user the current user."""
    user = session.user
    write_session(app.core.settings.data_dir,
                  StoredSession(token=session.token, user_id=str(user["_id"]), email=user.get("email")))
    app.current_user = user


async def end_session(app: "ApsaraApp", *, everywhere: bool = False) -> str:
    """Revoke the stored token (or every session of its user), delete the file, clear the user.

    Returns:
        The email (or id) of the user logged out, or "" when no session was stored.

    Raises:
        ApsaraError: the Core refused to revoke (the file is kept so it can be retried).
    """
    core = app.core
    stored = read_session(core.settings.data_dir)
    if stored is not None:
        found = await active_session(core)  # an expired or revoked token needs no revoking
        if found is not None and everywhere:
            await core.auth.logout_all(actor=found[1])
        elif found is not None:
            await core.auth.logout(token=stored.token)
        delete_session(core.settings.data_dir)
    app.current_user = None
    return "" if stored is None else (stored.email or stored.user_id)


def forget_user(app: "ApsaraApp", user_id: str) -> bool:
    """After a user is deleted or their sessions end: drop them as current user and session."""
    dropped = False
    stored = read_session(app.core.settings.data_dir)
    if stored is not None and stored.user_id == user_id:
        delete_session(app.core.settings.data_dir)
        dropped = True
    if app.current_user and str(app.current_user.get("_id")) == user_id:
        app.current_user = None
        dropped = True
    return dropped


async def restore_session(app: "ApsaraApp") -> None:
    """On start: when a stored session verifies, make its user the current user."""
    core = app.core
    stored = read_session(core.settings.data_dir)
    if stored is None:
        return
    try:
        principal = await core.auth.verify_token(stored.token)
        user: dict[str, Any] = await core.users.get(actor=Principal.operator(), user=principal.user_id)
    except ApsaraError as exc:
        app.notify(f"The saved session of {stored.email or stored.user_id} is no longer valid "
                   f"({exc.message}). Log in again with action 15.", title="Session", severity="warning")
        return
    except Exception as exc:  # noqa: BLE001 - a bad session file must never stop the app
        app.log.error(f"session restore failed: {exc!r}")
        return
    if app.current_user is None:  # the operator may already have chosen someone
        app.current_user = user
