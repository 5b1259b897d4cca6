"""Session tokens: HS256 JWTs with sub, role, plan, jti, iat, exp.

Tokens are signed with the current key and name it in a `kid` header (a fingerprint of the
key). Tokens signed with a key of JWT_PREVIOUS_SECRETS stay valid until they expire, so the
secret can be rotated without signing everyone out. Decoding pins the algorithm, requires
every claim, allows 30 s of clock skew, refuses headers that try to bring a key (`jku`, `jwk`,
`x5u`, `x5c`, `crit`), and reads `kid` only as a lookup among our own configured keys.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from apsara_core.config import key_id
from apsara_core.errors import AuthenticationError
from apsara_core.services.hints import SIGN_IN_AGAIN

ALGORITHM = "HS256"
LEEWAY_SECONDS = 30
REQUIRED_CLAIMS = ["exp", "iat", "sub", "jti"]
FORBIDDEN_HEADERS = frozenset({"jku", "jwk", "x5u", "x5c", "crit"})


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
    return AuthenticationError(reason, code="INVALID_TOKEN", suggestions=[SIGN_IN_AGAIN])


class TokenSigner:
    """Issues tokens with the current HS256 key; checks them against the current and previous."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ValueError("TokenSigner needs at least one key")
        self._keys = {key_id(key): key for key in reversed(keys)}  # the current key wins a clash
        self._current = keys[0]
        self.kid = key_id(keys[0])
        self._all = list(dict.fromkeys(keys))

    def issue(
        self, *, user: dict[str, Any], lifetime: timedelta, now: datetime
    ) -> tuple[str, str, datetime]:
        """A new token for `user` issued at `now`, signed with the current key (`kid` names it).

        Returns:
            (token, jti, expires_at). `iat` keeps sub-second precision so a token issued
            right after a "log out everywhere" is told apart from the ones before it.
        """
        expires = now + lifetime
        jti = secrets.token_urlsafe(16)
        claims = {
            "sub": str(user["_id"]),
            "role": user.get("role", "user"),
            "plan": user.get("subscriptionPlan", "free"),
            "jti": jti,
            "iat": round(now.timestamp(), 6),
            "exp": int(expires.timestamp()),
        }
        token = jwt.encode(
            claims, self._current, algorithm=ALGORITHM, headers={"typ": "JWT", "kid": self.kid}
        )
        return token, jti, datetime.fromtimestamp(claims["exp"], UTC)

    def decode(self, token: object) -> dict[str, Any]:
        """The verified claims of `token` (no database involved).

        Raises:
            AuthenticationError: code INVALID_TOKEN, for anything but a well-formed,
                unexpired token signed with one of our keys.
        """
        if not isinstance(token, str) or not token or len(token) > 4096:
            raise invalid_token("The session token is missing or malformed")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise invalid_token("The session token is malformed") from None
        if header.get("alg") != ALGORITHM or FORBIDDEN_HEADERS & set(header):
            raise invalid_token("The session token uses a refused algorithm or header")
        claims = self._verified(token, self._candidates(header))
        if not isinstance(claims.get("sub"), str) or not isinstance(claims.get("jti"), str):
            raise invalid_token()
        return claims

    def _candidates(self, header: dict[str, Any]) -> list[bytes]:
        """The keys that may have signed a token with this header: the one its `kid` names
        among ours, or (a token from before `kid`) each of ours in turn."""
        if "kid" not in header:
            return self._all
        kid = header["kid"]
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise invalid_token("The session token was signed with a key this server does not have")
        return [key]

    @staticmethod
    def _verified(token: str, keys: list[bytes]) -> dict[str, Any]:
        for key in keys:
            try:
                return jwt.decode(
                    token,
                    key,
                    algorithms=[ALGORITHM],
                    leeway=LEEWAY_SECONDS,
                    options={"require": REQUIRED_CLAIMS},
                )
            except jwt.ExpiredSignatureError:
                raise invalid_token("The session has expired") from None
            except jwt.InvalidSignatureError:
                continue  # another of our keys may have signed it
            except jwt.PyJWTError:
                raise invalid_token() from None
        raise invalid_token()
