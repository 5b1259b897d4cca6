"""The operator's session on this machine, and the one rule that says who acts.

The CLI and the app share one session file, `<data dir>/session.json` (mode 0600). This
service owns it: signing in (with the duplicate-login rule), switching, signing out (here or
everywhere), and `resolve_actor`, which every command and screen asks before calling the core.

The actor rule (the same for every command group and every screen):

- no session: the operator acts as admin, since they own the database;
- a session: the command acts as the logged-in user, with that user's rights;
- `operator=True` (the CLI's `--operator`), or signing out, returns to admin.

`user=` names the user whose data a command touches (`--user`, or the app's chosen user).
An admin (the operator, or an admin's session) may name anyone and then acts as that user;
anyone else may name only themselves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from apsara_core.errors import (
    ApsaraError,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from apsara_core.models import Principal
from apsara_core.repos import conversations as conv_repo
from apsara_core.repos import users as user_repo
from apsara_core.services.hints import LIST_USERS
from apsara_core.session_file import StoredSession, delete_session, read_session, write_session

if TYPE_CHECKING:
    from pymongo.asynchronous.database import AsyncDatabase

    from apsara_core.services.auth import AuthService
    from apsara_core.services.auth_tokens import Session

OPERATOR = Principal.operator()
"""The terminal operator with no session: direct database access, acts as admin."""


@dataclass(frozen=True)
class SignedOut:
    """What `sign_out` did: whose session ended (None: none was stored) and a note."""

    who: str | None
    everywhere: bool = False
    note: str = ""

    @property
    def message(self) -> str:
        """`logged out a@b.c everywhere (the session had already ended)`."""
        if self.who is None:
            return "Not logged in"
        return f"logged out {self.who}{' everywhere' if self.everywhere else ''}{self.note}"


class SessionService:
    """The session file, sign-in and sign-out on this machine, and the actor rule."""

    def __init__(self, *, data_dir: Path, db: AsyncDatabase, auth: AuthService) -> None:
        self._data_dir = data_dir
        self._db = db
        self._auth = auth

    # -- the stored session ---------------------------------------------------------------

    def stored(self) -> StoredSession | None:
        """The session file's content, verified or not (None without a file)."""
        return read_session(self._data_dir)

    async def active(self) -> tuple[StoredSession, Principal] | None:
        """The stored session and its principal when its token still verifies, else None
        (expired, revoked, locked or no file: not an active session)."""
        stored = self.stored()
        if stored is None:
            return None
        try:
            return stored, await self._auth.verify_token(stored.token)
        except ApsaraError:
            return None

    async def current(self) -> Principal | None:
        """The logged-in principal, or None when no valid session is stored."""
        found = await self.active()
        return found[1] if found else None

    # -- signing in and out -----------------------------------------------------------------

    async def replaced_by_sign_in(self) -> StoredSession | None:
        """The active session a new sign-in would replace (ask before switching)."""
        found = await self.active()
        return found[0] if found else None

    async def sign_in(
        self, authenticate: Callable[[], Awaitable[Session]], *, switch: bool = False
    ) -> Session:
        """Sign in with `authenticate` and store the new session.

        While a valid session is stored, a second sign-in is refused unless `switch`; a
        switch revokes the old token once the new sign-in has succeeded (a wrong password
        leaves the old session as it was).

        Raises:
            ConflictError: ALREADY_SIGNED_IN, without `switch`.
            ApsaraError: whatever `authenticate` raises.
        """
        found = await self.active()
        if found is not None and not switch:
            raise ConflictError(
                f"Already logged in as {found[0].email or found[1].user_id}",
                code="ALREADY_SIGNED_IN",
                suggestions=["Log out first with `apsara auth logout`, or pass --switch"],
            )
        session = await authenticate()
        if found is not None:
            await self._auth.logout(token=found[0].token)  # the switched-from session ends
        write_session(
            self._data_dir,
            StoredSession(
                token=session.token,
                user_id=str(session.user["_id"]),
                email=session.user.get("email"),
            ),
        )
        return session

    async def register(
        self, *, full_name: str, email: str, password: str, accept_terms: bool
    ) -> dict[str, Any]:
        """Register an account; a guest session in use is upgraded in place (keeping its
        conversations), and its ended token leaves the session file.

        Returns:
            The auth service's answer, plus `guestUpgraded: true` after an upgrade.
        """
        current = await self.current()
        guest = current if current is not None and current.is_guest else None
        done = await self._auth.register(
            full_name=full_name,
            email=email,
            password=password,
            accept_terms=accept_terms,
            actor=guest,
        )
        if guest is not None:
            self.forget(guest.user_id)
            done = {**done, "guestUpgraded": True}
        return done

    async def sign_out(self, *, everywhere: bool = False) -> SignedOut:
        """Revoke the stored token (or every session of its user) and delete the file.

        A token that no longer verifies needs no revoking: the file goes with a note. Ending
        every session needs a valid token (it tells whose sessions to end): without one the
        file goes too, since it can no longer sign anything, and the error says to log in
        again. Any other failure (the database is unreachable) keeps the file, so the
        sign-out can be retried.

        Raises:
            AuthenticationError: `everywhere` with an expired or revoked token.
            ApsaraError: the revocation could not be stored (the file is kept).
        """
        stored = self.stored()
        if stored is None:
            return SignedOut(who=None, everywhere=everywhere)
        who, note = stored.email or stored.user_id, ""
        try:
            if everywhere:
                await self._auth.logout_all(actor=await self._auth.verify_token(stored.token))
            else:
                await self._auth.logout(token=stored.token)
        except AuthenticationError:
            delete_session(self._data_dir)
            if everywhere:
                raise
            note = " (the session had already ended)"
        else:
            delete_session(self._data_dir)
        return SignedOut(who=who, everywhere=everywhere, note=note)

    def forget(self, user_id: str) -> bool:
        """Drop the stored session when it belongs to `user_id` (deleted, or signed out
        everywhere); True when a file was removed."""
        stored = self.stored()
        if stored is not None and stored.user_id == user_id:
            return delete_session(self._data_dir)
        return False

    # -- the actor rule -----------------------------------------------------------------------

    async def resolve_actor(
        self, *, user: str | None = None, operator: bool = False, need_user: bool = False
    ) -> Principal:
        """Who a command or screen acts as (see the module's rule).

        Args:
            user: email or id of the user whose data is touched, if the command names one.
            operator: act as the operator (admin) even while a session is stored.
            need_user: the command works on one user's data: the bare operator (no session,
                no `user`) is refused with a hint to name one.

        Raises:
            AuthenticationError: the stored session is expired, revoked or locked.
            NotFoundError: `user` does not exist.
            PermissionDeniedError: a non-admin session names another user.
            ValidationError: `need_user` and nobody is named or logged in.
        """
        base = OPERATOR if operator else await self._session_actor()
        if user is None or not user.strip():
            if need_user and base is OPERATOR:
                raise ValidationError(
                    "No user chosen: pass --user EMAIL_OR_ID or log in with `apsara auth login`",
                    field="--user",
                )
            return base
        doc = await user_repo.find_by_email_or_id(self._db, user)
        if doc is None or (not base.is_admin and str(doc["_id"]) != base.user_id):
            if doc is not None:
                raise PermissionDeniedError(
                    f"Logged in as {base.email or base.user_id} ({base.role}): you can act only "
                    "on your own data",
                    field="--user",
                    suggestions=[
                        "Log out (`apsara auth logout`) or pass --operator to act as admin"
                    ],
                )
            raise NotFoundError(
                f"No user {user!r}",
                field="--user",
                suggestions=[LIST_USERS],
            )
        return Principal.of_user(doc) if str(doc["_id"]) != base.user_id else base

    async def act_for(self, actor: Principal, user_id: str | None) -> Principal:
        """An HTTP caller naming `userId`: an admin then acts as that user; anyone else's
        `userId` is ignored (they act as themselves), as the spec says.

        Raises:
            NotFoundError: an admin named an unknown user.
            ValidationError: `userId` is given but blank or not an id string (anyone's).
        """
        if user_id is not None and (
            not isinstance(user_id, str) or not user_id.strip() or len(user_id) > 100
        ):
            raise ValidationError("userId must be a user id (1-100 characters)", field="userId")
        if not user_id or user_id == actor.user_id or not actor.is_admin:
            return actor
        doc = await user_repo.find_by_id(self._db, user_id)
        if doc is None:
            raise NotFoundError(f"No user {user_id!r}", field="userId")
        return Principal.of_user(doc)

    async def _session_actor(self) -> Principal:
        """The session's principal; the operator when no file is stored.

        A stored but unusable session is an error rather than a silent fall back to admin:
        whoever logged in meant to act with that account's rights.
        """
        stored = self.stored()
        if stored is None:
            return OPERATOR
        try:
            return await self._auth.verify_token(stored.token)
        except AuthenticationError as exc:
            exc.suggestions = [
                *exc.suggestions,
                "Or log out (`apsara auth logout`) to act as admin",
            ]
            raise

    def subject(self, actor: Principal, user: str | None) -> str:
        """The user a per-user view (statistics, a user's audit) is about: `user`, else the
        actor themselves; the bare operator has no data of their own and must name one.

        Raises:
            ValidationError: the operator named nobody.
        """
        if user and user.strip():
            return user.strip()
        if actor is OPERATOR or actor.user_id == OPERATOR.user_id:
            raise ValidationError(
                "No user chosen: pass --user EMAIL_OR_ID or log in", field="--user"
            )
        return actor.user_id

    async def in_conversation(self, actor: Principal, conversation_id: str) -> Principal:
        """Who speaks in a conversation: an admin working in someone's conversation acts as
        its owner (their quota, their messages); anyone else stays themselves, and the
        conversation service then refuses another user's conversation with a 404."""
        if not actor.is_admin or not isinstance(conversation_id, str):
            return actor
        conv = await conv_repo.find(self._db, conversation_id)
        if conv is None or conv["userId"] == actor.user_id:
            return actor
        owner: dict[str, Any] | None = await user_repo.find_by_id(self._db, conv["userId"])
        if owner is None:
            raise NotFoundError("The owner of this conversation no longer exists", field="--user")
        return Principal.of_user(owner)
