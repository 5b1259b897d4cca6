"""One-time codes: 6 digits from `secrets`, stored as an HMAC, 10 minutes, single use,
bound to a purpose, 5 tries; at most one mail per 60 s and 5 per hour per email and purpose.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from pymongo.asynchronous.database import AsyncDatabase

from apsara_core.clock import Clock
from apsara_core.errors import RateLimitError, ValidationError
from apsara_core.repos import otps as otp_repo

CODE_TTL = timedelta(minutes=10)
MAX_ATTEMPTS = 5
SEND_GAP = timedelta(seconds=60)
SEND_WINDOW = timedelta(hours=1)
SENDS_PER_WINDOW = 5
RESET_TOKEN_TTL = timedelta(minutes=15)


def wrong_code() -> ValidationError:
    """The one error for a wrong, expired, used or other-purpose code."""
    return ValidationError(
        "The code is wrong or has expired",
        field="otp",
        suggestions=["Check the latest mail, or ask for a new code"],
    )


class OtpManager:
    """Creates, sends-throttles and checks codes and reset tokens."""

    def __init__(self, *, db: AsyncDatabase, pepper: bytes, clock: Clock) -> None:
        self._db = db
        self._pepper = pepper
        self._clock = clock

    def _hash(self, *parts: str) -> str:
        return hmac.new(self._pepper, ":".join(parts).encode(), hashlib.sha256).hexdigest()

    async def may_send(self, email: str, purpose: str) -> bool:
        """Count one mail of `purpose` to `email`; False when throttled."""
        return await otp_repo.take_send(
            self._db,
            email,
            purpose,
            self._clock.now(),
            gap=SEND_GAP,
            window=SEND_WINDOW,
            per_window=SENDS_PER_WINDOW,
        )

    async def throttled(self, email: str, purpose: str) -> RateLimitError:
        """The error for a throttled send, with when the next one is allowed."""
        reset = await otp_repo.sends_reset_at(
            self._db, email, purpose, gap=SEND_GAP, window=SEND_WINDOW, per_window=SENDS_PER_WINDOW
        )
        return RateLimitError(
            "A code was sent recently: wait before asking for another one",
            reset_time=reset,
            field="email",
            details="At most one code per minute and 5 per hour per email",
            usage_info={"scope": "codes", "perWindow": SENDS_PER_WINDOW},
        )

    async def new_code(self, email: str, purpose: str) -> str:
        """A fresh code; the previous code of this purpose stops working."""
        code = f"{secrets.randbelow(1_000_000):06d}"
        await otp_repo.put_code(
            self._db, email, purpose, self._hash(purpose, email, code), self._clock.now(), CODE_TTL
        )
        return code

    async def check(self, email: str, purpose: str, code: str) -> None:
        """Accept the code once; count wrong tries and kill the code at the 5th.

        Raises:
            ValidationError: field "otp" — wrong, expired, used, other purpose, or killed.
        """
        doc = await otp_repo.take_attempt(self._db, email, purpose, self._clock.now(), MAX_ATTEMPTS)
        wanted = self._hash(purpose, email, code)
        if doc is not None and hmac.compare_digest(doc["codeHash"], wanted):
            if await otp_repo.consume_code(self._db, email, purpose, wanted):
                return
        if doc is not None and doc["attempts"] >= MAX_ATTEMPTS:
            await otp_repo.kill_code(self._db, email, purpose)
            raise ValidationError(
                "Too many wrong codes: this code no longer works",
                field="otp",
                suggestions=["Ask for a new code (resend)"],
            )
        raise wrong_code()

    async def new_reset_token(self, user_id: str, email: str) -> str:
        """A random single-use reset token (stored hashed), valid 15 minutes."""
        await otp_repo.drop_reset_tokens(self._db, email)
        token = secrets.token_urlsafe(32)
        await otp_repo.put_reset_token(
            self._db, self._hash("reset", token), user_id, email, self._clock.now(), RESET_TOKEN_TTL
        )
        return token

    async def take_reset_token(self, token: str) -> str:
        """Consume a reset token; returns its user id.

        Raises:
            ValidationError: field "resetToken" — unknown, used or expired.
        """
        doc = await otp_repo.take_reset_token(
            self._db, self._hash("reset", token), self._clock.now()
        )
        if doc is None:
            raise ValidationError(
                "The reset token is invalid, used or expired",
                field="resetToken",
                suggestions=["Start again with forgot-password"],
            )
        return str(doc["userId"])
