"""Passwords as the accounts see them: hash for storage, check at sign-in, rehash legacy hashes.

The pepper is the process's own key (PASSWORD_PEPPER or `<data dir>/password_pepper`). The
database records which pepper its hashes use, so a process started with another pepper (a
second machine without the shared PASSWORD_PEPPER, a lost pepper file) stops at start with one
clear line instead of failing every sign-in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pymongo.asynchronous.database import AsyncDatabase

from apsara_core.clock import Clock
from apsara_core.errors import ConfigError
from apsara_core.repos import meta
from apsara_core.repos import users as users_repo
from apsara_core.services.passwords import PasswordHasher, StoredPassword

if TYPE_CHECKING:
    from apsara_core.config import Settings


def pepper_mismatch(recorded: str, ours: str) -> ConfigError:
    """The error for a process whose pepper is not the one the stored hashes use."""
    return ConfigError(
        f"This database's password hashes use pepper {recorded}, but this process has pepper "
        f"{ours}: every process must use the same PASSWORD_PEPPER",
        field="PASSWORD_PEPPER",
        suggestions=[
            "Set PASSWORD_PEPPER to the same value everywhere, or copy "
            "<data dir>/password_pepper from the machine that wrote the hashes"
        ],
    )


async def check_pepper(db: AsyncDatabase, settings: Settings) -> None:
    """At start: stop when the database's hashes were written with another pepper.

    Raises:
        ConfigError: naming PASSWORD_PEPPER.
    """
    ours = PasswordHasher(settings.pepper_key(), settings.bcrypt_rounds).pepper_id
    recorded = await meta.recorded_pepper(db)
    if recorded is not None and recorded != ours:
        raise pepper_mismatch(recorded, ours)


class PasswordStore:
    """One per Core: the hasher (cost, pepper, legacy JWT-derived peppers) and its bookkeeping."""

    def __init__(self, *, db: AsyncDatabase, settings: Settings, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        self.hasher = PasswordHasher(
            settings.pepper_key(), settings.bcrypt_rounds, legacy_keys=settings.jwt_keys()
        )
        self._claimed = False

    async def hash(self, password: str) -> StoredPassword:
        """A new hash with the current pepper (recorded in the database on first use).

        Raises:
            ConfigError: another process already recorded a different pepper.
        """
        if not self._claimed:
            recorded = await meta.claim_pepper(
                self._db, self.hasher.pepper_id, now=self._clock.now()
            )
            if recorded != self.hasher.pepper_id:
                raise pepper_mismatch(recorded, self.hasher.pepper_id)
            self._claimed = True
        return await self.hasher.hash(password)

    async def check(self, password: str, user: dict[str, Any] | None) -> bool:
        """Whether `password` is the user's (a dummy check of the same cost when there is no
        user or no password). A legacy hash that matches is rewritten with the current pepper,
        only if it is still the stored one (a parallel reset wins)."""
        hashed = user.get("password") if user else None
        pepper_id = user.get("passwordPepper") if user else None
        ok = await self.hasher.check(password, hashed, pepper_id)
        if ok and user is not None and hashed and pepper_id is None:
            fresh = await self.hash(password)
            await users_repo.replace_password(self._db, str(user["_id"]), hashed, fresh.fields())
        return ok

    async def dummy_check(self, password: str) -> None:
        """The cost of a check, comparing nothing."""
        await self.hasher.dummy_check(password)
