"""A local JWKS endpoint and a test "Google" that signs ID tokens with its own RSA keys.

    google = FakeGoogle(client_id="test-client")
    google.start()                      # serves {"keys": [...]} at google.jwks_url
    token = google.id_token(sub="123", email="a@example.com", email_verified=True)
    google.rotate()                     # a new key (new kid) published; old one dropped
    google.stop()

`google.fetches` counts JWKS requests (to prove caching and refetch on an unknown kid).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ISSUER = "https://accounts.google.com"


def new_key() -> rsa.RSAPrivateKey:
    """A fresh 2048-bit RSA key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class FakeGoogle:
    """Serves the public half of its keys as a JWKS and signs ID tokens."""

    def __init__(self, client_id: str = "test-client.apps.googleusercontent.com") -> None:
        self.client_id = client_id
        self.fetches = 0
        self._keys: dict[str, rsa.RSAPrivateKey] = {}
        self._counter = 0
        self._server: ThreadingHTTPServer | None = None
        self.rotate()

    @property
    def kid(self) -> str:
        """The current signing key id."""
        return f"test-key-{self._counter}"

    def rotate(self) -> None:
        """Publish a new signing key in place of the old one."""
        self._counter += 1
        self._keys = {self.kid: new_key()}

    def jwks(self) -> dict[str, Any]:
        """The published key set."""
        keys = []
        for kid, key in self._keys.items():
            jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
            keys.append({**jwk, "kid": kid, "alg": "RS256", "use": "sig"})
        return {"keys": keys}

    def id_token(
        self,
        *,
        sub: str = "1234567890",
        email: str | None = "user@gmail.com",
        email_verified: bool = True,
        name: str | None = "Google User",
        picture: str | None = "https://example.com/p.png",
        audience: str | None = None,
        issuer: str = ISSUER,
        expires_in: int = 3600,
        key: Any = None,
        kid: str | None = None,
        drop: tuple[str, ...] = (),
        headers: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """A signed ID token; every part can be made wrong for negative tests."""
        now = int(time.time())
        payload = {
            "iss": issuer,
            "aud": audience or self.client_id,
            "sub": sub,
            "iat": now,
            "exp": now + expires_in,
            "email": email,
            "email_verified": email_verified,
            "name": name,
            "picture": picture,
            **claims,
        }
        payload = {k: v for k, v in payload.items() if v is not None and k not in drop}
        signing = key or self._keys[self.kid]
        return jwt.encode(
            payload, signing, algorithm="RS256", headers={"kid": kid or self.kid, **(headers or {})}
        )

    @property
    def jwks_url(self) -> str:
        """Where the key set is served."""
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/oauth2/v3/certs"

    def start(self) -> FakeGoogle:
        """Serve the JWKS on 127.0.0.1 (a free port) in a daemon thread."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server API)
                fake.fetches += 1
                body = json.dumps(fake.jwks()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
