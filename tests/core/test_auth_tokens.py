"""Session tokens: pinned HS256, required claims, forgeries refused, revocation at once."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from apsara_core.config import key_id
from apsara_core.core import Core
from apsara_core.errors import AuthenticationError, ValidationError
from apsara_core.models import Principal
from tests.conftest import TEST_SECRET
from tests.factories import STRONG_PASSWORD, registered_user


async def _session(core: Core):
    user = await registered_user(core)
    return user, await core.auth.login(email=user["email"], password=STRONG_PASSWORD)


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


async def test_token_has_the_required_claims_and_lifetime(core: Core) -> None:
    user, session = await _session(core)
    claims = _claims(session.token)
    assert {"sub", "role", "plan", "jti", "iat", "exp"} <= set(claims)
    assert claims["sub"] == user["_id"] and claims["role"] == "user" and claims["plan"] == "free"
    assert abs(claims["exp"] - claims["iat"] - 7 * 86400) < 2
    header = jwt.get_unverified_header(session.token)
    assert header["alg"] == "HS256" and header["kid"] == key_id(TEST_SECRET.encode())
    assert session.to_dict()["expiresAt"] == session.expires_at
    assert session.token not in repr(session)
    principal = await core.auth.verify_token(session.token)
    assert principal == Principal(user["_id"], "user", "free", user["email"], claims["jti"])


def _forge(claims: dict, header: dict, key: str = TEST_SECRET, alg: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=alg, headers=header)


async def test_forged_tokens_are_rejected(core: Core) -> None:
    user, session = await _session(core)
    claims = _claims(session.token)
    head, body, sig = session.token.split(".")
    other_key = "another-secret-" + "y" * 40
    from cryptography.hazmat.primitives.asymmetric import rsa

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = {
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{body}.",
        "alg None no sig": f"{_b64({'alg': 'None'})}.{body}.",
        "other key": _forge(claims, {}, other_key),
        "edited payload role admin": f"{head}.{_b64({**claims, 'role': 'admin'})}.{sig}",
        "HS512": _forge(claims, {}, key=TEST_SECRET * 2, alg="HS512"),
        "RS256": jwt.encode(claims, rsa_key, algorithm="RS256"),
        "jku header": _forge(claims, {"jku": "https://evil.example/jwks"}),
        "jwk header": _forge(claims, {"jwk": {"kty": "oct", "k": "AAAA"}}),
        "kid header": _forge(claims, {"kid": "../../dev/null"}),
        "expired": _forge(
            {**claims, "iat": time.time() - 7200, "exp": int(time.time()) - 3600}, {}
        ),
        "garbage": "not.a.token",
        "empty": "",
    }
    for claim in ("exp", "iat", "sub", "jti"):
        forged[f"missing {claim}"] = _forge({k: v for k, v in claims.items() if k != claim}, {})
    for name, token in forged.items():
        with pytest.raises(AuthenticationError) as exc:
            await core.auth.verify_token(token)
        assert exc.value.http_status == 401, name
    for value in (None, 12, {"$ne": None}, "x" * 10_000):
        with pytest.raises(AuthenticationError):
            await core.auth.verify_token(value)  # type: ignore[arg-type]


async def test_leeway_is_thirty_seconds(core: Core) -> None:
    user, session = await _session(core)
    claims = _claims(session.token)
    now = int(time.time())
    recent = _forge({**claims, "exp": now - 10}, {})
    assert (await core.auth.verify_token(recent)).user_id == user["_id"]
    with pytest.raises(AuthenticationError):
        await core.auth.verify_token(_forge({**claims, "exp": now - 60}, {}))


async def test_logout_is_effective_at_once_and_expires_with_the_token(core: Core) -> None:
    user, session = await _session(core)
    other = await core.auth.login(email=user["email"], password=STRONG_PASSWORD)
    await core.auth.logout(token=session.token)
    with pytest.raises(AuthenticationError) as exc:
        await core.auth.verify_token(session.token)
    assert "signed out" in exc.value.message
    assert (await core.auth.verify_token(other.token)).user_id == user["_id"]
    revoked = await core.db.revoked_tokens.find_one({"jti": _claims(session.token)["jti"]})
    assert int(revoked["expiresAt"].timestamp()) == _claims(session.token)["exp"]
    await core.auth.logout(token=session.token)  # twice is fine


async def test_logout_all_ends_every_session_but_not_later_ones(core: Core) -> None:
    user, first = await _session(core)
    second = await core.auth.login(email=user["email"], password=STRONG_PASSWORD)
    principal = await core.auth.verify_token(first.token)
    await core.auth.logout_all(actor=principal)
    for session in (first, second):
        with pytest.raises(AuthenticationError):
            await core.auth.verify_token(session.token)
    later = await core.auth.login(email=user["email"], password=STRONG_PASSWORD)
    assert (await core.auth.verify_token(later.token)).user_id == user["_id"]


async def test_role_and_plan_changes_apply_on_the_next_verification(core: Core) -> None:
    user, session = await _session(core)
    op = Principal.operator()
    await core.users.set_plan(actor=op, user=user["email"], plan="premium")
    await core.users.set_role(actor=op, user=user["email"], role="admin")
    principal = await core.auth.verify_token(session.token)
    assert principal.plan == "premium" and principal.role == "admin"
    await core.users.set_role(actor=op, user=user["email"], role="user")
    assert not (await core.auth.verify_token(session.token)).is_admin


async def test_deleted_user_token_is_refused(core: Core) -> None:
    user, session = await _session(core)
    await core.users.delete(actor=Principal.operator(), user=user["email"])
    with pytest.raises(AuthenticationError):
        await core.auth.verify_token(session.token)


async def test_logout_with_a_forged_token_is_refused(core: Core) -> None:
    with pytest.raises(AuthenticationError):
        await core.auth.logout(
            token=_forge({"sub": "x", "jti": "y", "iat": 1, "exp": 2}, {}, key="z" * 40)
        )
    assert await core.db.revoked_tokens.count_documents({}) == 0


async def test_short_secret_fails_at_startup(settings) -> None:
    from apsara_core.core import open_core
    from apsara_core.errors import ConfigError

    with pytest.raises(ConfigError):
        from pydantic import SecretStr

        await open_core(settings.model_copy(update={"jwt_secret": SecretStr("short")}))


def test_validation_error_is_not_an_auth_error() -> None:
    assert not issubclass(ValidationError, AuthenticationError)
