"""Login lockout: at most 5 password checks per email, then a 15-minute lock.

A check needs a slot taken atomically in the database BEFORE bcrypt runs, so slots count the
checks still in flight: 50 parallel guesses (from any number of processes) get 5 checks and
the rest the locked answer. Slots are kept per normalised email whether or not an account
uses it, so an unknown address locks exactly as a real one does. While an address is locked
every attempt gets one answer (same status, same body), the password is not checked, and the
same bcrypt work is done against a dummy hash so the timing stays flat.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from apsara_core.clock import Clock
from apsara_core.errors import AccountLockedError
from apsara_core.repos import login_attempts as attempts
from apsara_core.repos import users as users_repo
from apsara_core.services import auth_mails as mails
from apsara_core.services.hints import ADMIN_UNLOCK
from apsara_core.services.mail import MailService
from apsara_core.services.password_store import PasswordStore

MAX_FAILURES = 5
LOCK_TIME = timedelta(minutes=15)


def locked_answer() -> AccountLockedError:
    """The one answer while an address is locked, whatever the password and whether or not
    the address has an account (so it carries no time: nothing that differs between them)."""
    return AccountLockedError(
        "Too many failed sign-ins: this address is locked for up to 15 minutes",
        suggestions=["Try again later", ADMIN_UNLOCK],
    )


class LoginGuard:
    """Takes, spends and gives back the password-check slots of an email."""

    def __init__(
        self,
        *,
        db: AsyncDatabase,
        passwords: PasswordStore,
        mail: MailService,
        clock: Clock,
        defer: Callable[[Coroutine[Any, Any, Any], str], object],
    ) -> None:
        self._db = db
        self._passwords = passwords
        self._mail = mail
        self._clock = clock
        self._defer = defer

    async def take(self, email: str) -> bool:
        """Take a check slot for `email`; False when its slots are spent or it is locked."""
        return await attempts.take_slot(self._db, email, limit=MAX_FAILURES, now=self._clock.now())

    async def refuse(self, email: str, password: str) -> AccountLockedError:
        """The locked path: lock now if the slots are spent, do a check's work, and return
        the locked answer. The password is never compared."""
        await self._lock(email)
        await self._passwords.dummy_check(password)
        return locked_answer()

    async def failed(self, email: str, user: dict[str, Any] | None) -> None:
        """A wrong password (or an unknown email): shown on the account, lock if spent."""
        if user is not None:
            await users_repo.count_failure(self._db, str(user["_id"]))
        await self._lock(email)

    async def passed(self, email: str) -> bool:
        """A right password: forget the failures. False when the address locked while the
        password was being checked: that attempt gets the locked answer, no session."""
        return await attempts.succeed(self._db, email, now=self._clock.now())

    async def _lock(self, email: str) -> None:
        now = self._clock.now()
        until = now + LOCK_TIME
        if not await attempts.lock(self._db, email, limit=MAX_FAILURES, now=now, until=until):
            return  # not spent yet, or another attempt locked it (and mailed the owner)
        account = await users_repo.mirror_lock(self._db, email, until)
        if account is not None and not account.get("isGuest"):
            # Deferred: an SMTP delay or failure must not show in this attempt's answer.
            self._defer(
                self._mail.send(
                    to=account["email"],
                    **mails.locked(account["fullName"], account["email"], until),
                ),
                "lock notification mail",
            )
