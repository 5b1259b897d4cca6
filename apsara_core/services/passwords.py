"""Password policy and hashing: bcrypt over an HMAC-SHA256 pre-hash, off the event loop.

The pre-hash (base64 of HMAC-SHA256 keyed with a pepper derived from the JWT key) lets
passwords longer than bcrypt's 72 bytes work, and keeps passwords that differ after byte 72
different. bcrypt always runs in a worker thread so other requests are not stalled.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from functools import lru_cache
from importlib import resources

import bcrypt

from apsara_core.errors import ValidationError

MIN_LENGTH = 8
MAX_LENGTH = 128


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords (lowercased)."""
    text = resources.files("apsara_core").joinpath("data/common-passwords.txt").read_text("utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines()
                     if line.strip() and not line.startswith("#"))


def check_policy(password: object, field: str = "password") -> str:
    """8–128 characters, not a common password; no composition rules, no truncation.

    Raises:
        ValidationError: naming `field` and the rule broken.
    """
    if not isinstance(password, str):
        raise ValidationError(f"{field} must be a string", field=field)
    if len(password) < MIN_LENGTH:
        raise ValidationError(f"{field} is too short: use at least {MIN_LENGTH} characters",
                              field=field)
    if len(password) > MAX_LENGTH:
        raise ValidationError(f"{field} is too long: use at most {MAX_LENGTH} characters",
                              field=field)
    if password.lower() in common_passwords():
        raise ValidationError(f"{field} is one of the most common passwords; choose another",
                              field=field, suggestions=["A few unrelated words make a strong password"])
    return password


class PasswordHasher:
    """Hashes and checks passwords with bcrypt at a given cost and pepper."""

    def __init__(self, jwt_key: bytes, rounds: int) -> None:
        self._pepper = hmac.new(jwt_key, b"apsara-password-pepper", hashlib.sha256).digest()
        self._rounds = rounds
        self._dummy: bytes | None = None

    def prehash(self, password: str) -> bytes:
        """base64(HMAC-SHA256(pepper, password)): 44 bytes, under bcrypt's 72-byte limit."""
        digest = hmac.new(self._pepper, password.encode("utf-8"), hashlib.sha256).digest()
        return base64.b64encode(digest)

    def hash_sync(self, password: str) -> str:
        """The bcrypt hash (blocking)."""
        return bcrypt.hashpw(self.prehash(password), bcrypt.gensalt(self._rounds)).decode()

    def check_sync(self, password: str, hashed: str | None) -> bool:
        """Whether `password` matches `hashed` (blocking); a dummy check when there is no hash."""
        if not hashed:
            bcrypt.checkpw(self.prehash(password), self._dummy_hash())
            return False
        try:
            return bcrypt.checkpw(self.prehash(password), hashed.encode())
        except ValueError:
            return False

    async def hash(self, password: str) -> str:
        """The bcrypt hash, computed in a worker thread."""
        return await asyncio.to_thread(self.hash_sync, password)

    async def check(self, password: str, hashed: str | None) -> bool:
        """Check in a worker thread; same cost whether or not there is a hash."""
        return await asyncio.to_thread(self.check_sync, password, hashed)

    def _dummy_hash(self) -> bytes:
        if self._dummy is None:
            self._dummy = bcrypt.hashpw(b"apsara-dummy-password", bcrypt.gensalt(self._rounds))
        return self._dummy
