"""Password policy and hashing: bcrypt over an HMAC-SHA256 pre-hash, off the event loop.

The pre-hash (base64 of HMAC-SHA256 keyed with the password pepper, PASSWORD_PEPPER or a
generated key) lets passwords longer than bcrypt's 72 bytes work, and keeps passwords that
differ after byte 72 different. bcrypt always runs in a worker thread so other requests are
not stalled.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import bcrypt

from apsara_core.config import key_id
from apsara_core.errors import ValidationError
from apsara_core.vocabulary import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords (lowercased)."""
    text = resources.files("apsara_core").joinpath("data/common-passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower()
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    )


def check_policy(password: object, field: str = "password") -> str:
    """8–128 characters, not a common password; no composition rules, no truncation.

    Raises:
        ValidationError: naming `field` and the rule broken.
    """
    if not isinstance(password, str):
        raise ValidationError(f"{field} must be a string", field=field)
    if len(password) < PASSWORD_MIN_LENGTH:
        raise ValidationError(
            f"{field} is too short: use at least {PASSWORD_MIN_LENGTH} characters", field=field
        )
    if len(password) > PASSWORD_MAX_LENGTH:
        raise ValidationError(
            f"{field} is too long: use at most {PASSWORD_MAX_LENGTH} characters", field=field
        )
    if password.lower() in common_passwords():
        raise ValidationError(
            f"{field} is one of the most common passwords; choose another",
            field=field,
            suggestions=["A few unrelated words make a strong password"],
        )
    return password


LEGACY_PEPPER_LABEL = b"apsara-password-pepper"


def legacy_pepper(jwt_key: bytes) -> bytes:
    """The pepper of hashes written before the pepper had its own key: derived from a JWT key."""
    return hmac.new(jwt_key, LEGACY_PEPPER_LABEL, hashlib.sha256).digest()


@dataclass(frozen=True)
class StoredPassword:
    """A hash as stored on the user: the bcrypt hash and the id of the pepper it used."""

    hash: str
    pepper_id: str

    def fields(self) -> dict[str, str]:
        """The user fields to set: `password` and `passwordPepper`."""
        return {"password": self.hash, "passwordPepper": self.pepper_id}


class PasswordHasher:
    """Hashes and checks passwords with bcrypt at a given cost, over a peppered pre-hash.

    New hashes use `pepper` and record its id. A hash without a pepper id was written with
    the pepper derived from a JWT key; those are checked against the legacy peppers of
    `legacy_keys` (current JWT key first) so they keep working until they are rehashed.
    `checks` and `dummy_checks` count bcrypt runs, so tests and operators can see how many
    passwords were really compared.
    """

    def __init__(self, pepper: bytes, rounds: int, legacy_keys: Sequence[bytes] = ()) -> None:
        self._pepper = pepper
        self.pepper_id = key_id(pepper)
        self._legacy = [legacy_pepper(key) for key in legacy_keys]
        self._rounds = rounds
        self._dummy: bytes | None = None
        self._count_lock = threading.Lock()
        self.checks = 0
        self.dummy_checks = 0

    def prehash(self, password: str, pepper: bytes | None = None) -> bytes:
        """base64(HMAC-SHA256(pepper, password)): 44 bytes, under bcrypt's 72-byte limit."""
        digest = hmac.new(pepper or self._pepper, password.encode("utf-8"), hashlib.sha256).digest()
        return base64.b64encode(digest)

    def hash_sync(self, password: str) -> StoredPassword:
        """The bcrypt hash with the current pepper (blocking)."""
        hashed = bcrypt.hashpw(self.prehash(password), bcrypt.gensalt(self._rounds)).decode()
        return StoredPassword(hashed, self.pepper_id)

    def check_sync(self, password: str, hashed: str | None, pepper_id: str | None = None) -> bool:
        """Whether `password` matches `hashed` (blocking); a dummy check when there is no hash.

        Args:
            pepper_id: the stored `passwordPepper`; None means a legacy (JWT-derived) hash.
        """
        peppers = self._peppers_for(pepper_id) if hashed else []
        if not hashed or not peppers:
            self.dummy_check_sync(password)
            return False
        for pepper in peppers:
            self._count("checks")
            try:
                if bcrypt.checkpw(self.prehash(password, pepper), hashed.encode()):
                    return True
            except ValueError:
                return False
        return False

    def _peppers_for(self, pepper_id: str | None) -> list[bytes]:
        if pepper_id is None:
            # One bcrypt run per candidate: only while JWT_PREVIOUS_SECRETS lists keys and the
            # account has not signed in since, so a wrong password on such an account costs
            # one run per previous key (accepted for the rotation window).
            return self._legacy
        if pepper_id == self.pepper_id:
            return [self._pepper]
        log.error(
            "A password hash uses pepper %s but this process has pepper %s: every "
            "process must share PASSWORD_PEPPER",
            pepper_id,
            self.pepper_id,
        )
        return []

    def dummy_check_sync(self, password: str) -> None:
        """The same bcrypt work as a real check, against a hash nobody's password matches."""
        self._count("dummy_checks")
        bcrypt.checkpw(self.prehash(password), self._dummy_hash())

    def _count(self, name: str) -> None:
        with self._count_lock:  # checks run in worker threads
            setattr(self, name, getattr(self, name) + 1)

    async def hash(self, password: str) -> StoredPassword:
        """The bcrypt hash, computed in a worker thread."""
        return await asyncio.to_thread(self.hash_sync, password)

    async def check(self, password: str, hashed: str | None, pepper_id: str | None = None) -> bool:
        """Check in a worker thread; same cost whether or not there is a hash."""
        return await asyncio.to_thread(self.check_sync, password, hashed, pepper_id)

    async def dummy_check(self, password: str) -> None:
        """The work of a check without comparing anything (a locked address, say)."""
        await asyncio.to_thread(self.dummy_check_sync, password)

    def _dummy_hash(self) -> bytes:
        if self._dummy is None:
            self._dummy = bcrypt.hashpw(b"apsara-dummy-password", bcrypt.gensalt(self._rounds))
        return self._dummy
