"""Google ID tokens: RS256 signature against the JWKS at GOOGLE_JWKS_URL (keys cached,
refetched on an unknown `kid`), audience = GOOGLE_CLIENT_ID (never skipped), Google's
issuer, and expiry.
"""

from __future__ import annotations

import asyncio
from typing import Any

import jwt

from apsara_core.config import Settings
from apsara_core.errors import AuthenticationError, GoogleSignInNotConfiguredError

ISSUERS = ("accounts.google.com", "https://accounts.google.com")
REFUSED_HEADERS = frozenset({"jku", "jwk", "x5u", "x5c"})
REFETCH_COOLDOWN_S = 1.0
"""An unknown `kid` refetches the keys at most this often (no fetch storm from bad tokens)."""


def _refused(reason: str) -> AuthenticationError:
    return AuthenticationError(
        f"Google sign-in refused: {reason}", code="INVALID_GOOGLE_TOKEN", field="idToken"
    )


class GoogleVerifier:
    """Verifies Google ID tokens; one instance keeps the fetched keys."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._jwks: jwt.PyJWKClient | None = None

    def _client(self) -> jwt.PyJWKClient:
        if self._jwks is None:
            self._jwks = jwt.PyJWKClient(
                self._settings.google_jwks_url,
                cache_keys=True,
                lifespan=3600,
                timeout=10,
                cooldown_duration=REFETCH_COOLDOWN_S,
            )
        return self._jwks

    async def verify(self, id_token: str) -> dict[str, Any]:
        """The verified claims of a Google ID token.

        Raises:
            GoogleSignInNotConfiguredError: GOOGLE_CLIENT_ID is not set (503 over HTTP).
            AuthenticationError: code INVALID_GOOGLE_TOKEN with the reason.
        """
        client_id = self._settings.google_client_id
        if not client_id:
            raise GoogleSignInNotConfiguredError(
                "Google sign-in is not configured on this server: set GOOGLE_CLIENT_ID to your "
                "OAuth client id",
                suggestions=["Sign in with email and password instead"],
            )
        return await asyncio.to_thread(self._verify_sync, id_token, client_id)

    def _verify_sync(self, id_token: str, client_id: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError:
            raise _refused("the ID token is malformed") from None
        if header.get("alg") != "RS256" or REFUSED_HEADERS & set(header):
            raise _refused("the ID token uses a refused algorithm or header")
        try:
            key = self._client().get_signing_key_from_jwt(id_token)
        except jwt.PyJWKClientConnectionError:
            raise _refused("Google's signing keys could not be fetched") from None
        except jwt.PyJWTError:
            raise _refused("the ID token is signed with an unknown key") from None
        try:
            return jwt.decode(
                id_token,
                key.key,
                algorithms=["RS256"],
                audience=client_id,
                issuer=ISSUERS,
                leeway=30,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise _refused("the ID token has expired") from None
        except jwt.InvalidAudienceError:
            raise _refused("the ID token was issued for another application") from None
        except jwt.InvalidIssuerError:
            raise _refused("the ID token was not issued by Google") from None
        except jwt.InvalidSignatureError:
            raise _refused("the ID token's signature is invalid") from None
        except jwt.PyJWTError as exc:
            raise _refused(f"the ID token is invalid ({type(exc).__name__})") from None
