"""Session tokens: HS256 JWTs with sub, role, plan, jti, iat, exp.

Decoding pins the algorithm, requires every claim, allows 30 s of clock skew and refuses
headers that try to choose the key (`jku`, `jwk`, `x5u`, `x5c`, `kid`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import jwt

from apsara_core.errors import AuthenticationError

ALGORITHM = "HS256"
LEEWAY_SECONDS = 30
REQUIRED_CLAIMS = ["exp", "iat", "sub", "jti"]
FORBIDDEN_HEADERS = frozenset({"jku", "jwk", "x5u", "x5c", "kid", "crit"})


@dataclass
class Session:
    """A signed-in session: the token, the public user, and when the token expires."""

    token: str
    user: dict[str, Any]
    expires_at: datetime
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """{"token", "user", "expiresAt"}."""
        return {"token": self.token, "user": self.user, "expiresAt": self.expires_at}

    def __repr__(self) -> str:  # never show the token
        return f"Session(user={self.user.get('email')!r}, expires_at={self.expires_at!r})"


def invalid_token(reason: str = "The session token is invalid") -> AuthenticationError:
    """The one error for any unusable token (the reason is safe to show)."""
    return AuthenticationError(reason, code="INVALID_TOKEN",
                               suggestions=["Sign in again with `apsara auth login`"])


class TokenSigner:
    """Issues and checks session tokens with one HS256 key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def issue(self, *, user: dict[str, Any], lifetime: timedelta,
              now: datetime | None = None) -> tuple[str, str, datetime]:
        """A new token for `user`.

        Returns:
            (token, jti, expires_at). `iat` keeps sub-second precision so a token issued
            right after a "log out everywhere" is told apart from the ones before it.
        """
        now = now or datetime.now(timezone.utc)
        expires = now + lifetime
        jti = secrets.token_urlsafe(16)
        claims = {"sub": str(user["_id"]), "role": user.get("role", "user"),
                  "plan": user.get("subscriptionPlan", "free"), "jti": jti,
                  "iat": round(now.timestamp(), 6), "exp": int(expires.timestamp())}
        token = jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"typ": "JWT"})
        return token, jti, datetime.fromtimestamp(claims["exp"], timezone.utc)

    def decode(self, token: object) -> dict[str, Any]:
        """The verified claims of `token` (no database involved).

        Raises:
            AuthenticationError: code INVALID_TOKEN, for anything but a well-formed,
                unexpired token signed with our key.
        """
        if not isinstance(token, str) or not token or len(token) > 4096:
            raise invalid_token("The session token is missing or malformed")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise invalid_token("The session token is malformed") from None
        if header.get("alg") != ALGORITHM or FORBIDDEN_HEADERS & set(header):
            raise invalid_token("The session token uses a refused algorithm or header")
        try:
            claims = jwt.decode(token, self._key, algorithms=[ALGORITHM], leeway=LEEWAY_SECONDS,
                                options={"require": REQUIRED_CLAIMS})
        except jwt.ExpiredSignatureError:
            raise invalid_token("The session has expired") from None
        except jwt.PyJWTError:
            raise invalid_token() from None
        if not isinstance(claims.get("sub"), str) or not isinstance(claims.get("jti"), str):
            raise invalid_token()
        return claims
