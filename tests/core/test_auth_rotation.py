"""Rotating JWT_SECRET signs no one out and breaks no password: the pepper has its own key,
tokens name their key (`kid`), previous keys are accepted until their tokens expire, and
hashes from before the pepper had its own key keep working and are rehashed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
import time

import jwt
import pytest
from pydantic import SecretStr

from apsara_core.config import Settings, key_id
from apsara_core.core import open_core
from apsara_core.errors import AuthenticationError, ConfigError
from apsara_core.services.passwords import PasswordHasher, legacy_pepper
from tests.conftest import TEST_SECRET, opened_core
from tests.factories import STRONG_PASSWORD, create_user, latest_code, registered_user

NEW_SECRET = "the-next-secret-" + "n" * 40
EMAIL = "reg@example.com"


def _kid(token: str) -> str | None:
    return jwt.get_unverified_header(token).get("kid")


def _raw(header: dict, claims: dict, key: str) -> str:
    """An HS256 token built by hand (PyJWT refuses to write some hostile headers)."""

    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    signing = f"{part(header)}.{part(claims)}"
    sig = hmac.new(key.encode(), signing.encode(), hashlib.sha256).digest()
    return f"{signing}.{base64.urlsafe_b64encode(sig).rstrip(b'=').decode()}"


def _rotated(settings: Settings, previous: str | None = TEST_SECRET) -> Settings:
    return settings.model_copy(
        update={
            "jwt_secret": SecretStr(NEW_SECRET),
            "jwt_previous_secrets": SecretStr(previous) if previous else None,
        }
    )


async def test_restart_with_a_new_secret_keeps_sessions_passwords_and_codes(settings) -> None:
    async with opened_core(settings) as core:
        await registered_user(core)
        old = await core.auth.login(email=EMAIL, password=STRONG_PASSWORD)
        await core.auth.register(
            full_name="Later",
            email="later@example.com",
            password=STRONG_PASSWORD,
            accept_terms=True,
        )
        code = await latest_code(core, "later@example.com")
        # the test fixture drops the database at exit: reopen it rotated inside
        rotated = await open_core(_rotated(settings))
        try:
            assert _kid(old.token) == key_id(TEST_SECRET.encode())
            assert (await rotated.auth.verify_token(old.token)).email == EMAIL
            new = await rotated.auth.login(email=EMAIL, password=STRONG_PASSWORD)
            assert _kid(new.token) == key_id(NEW_SECRET.encode()) != _kid(old.token)
            await rotated.auth.verify_email(email="later@example.com", otp=code)  # codes too
        finally:
            await rotated.close()
        dropped = await open_core(_rotated(settings, previous=None))
        try:
            with pytest.raises(AuthenticationError):  # the old key is gone: its tokens too
                await dropped.auth.verify_token(old.token)
            assert (await dropped.auth.login(email=EMAIL, password=STRONG_PASSWORD)).token
        finally:
            await dropped.close()


async def test_a_legacy_hash_keeps_working_and_is_rehashed_at_login(settings) -> None:
    legacy = PasswordHasher(legacy_pepper(TEST_SECRET.encode()), 4).hash_sync(STRONG_PASSWORD)
    async with opened_core(_rotated(settings)) as core:  # written before, under the old key
        user = await create_user(core, EMAIL, password=legacy.hash)
        assert "passwordPepper" not in user
        with pytest.raises(AuthenticationError):
            await core.auth.login(email=EMAIL, password="not the password")
        assert (await core.auth.login(email=EMAIL, password=STRONG_PASSWORD)).token
        stored = await core.db.users.find_one({"_id": user["_id"]})
        assert stored["passwordPepper"] == core.passwords.hasher.pepper_id
        assert stored["password"] != legacy.hash
    async with opened_core(_rotated(settings, previous=None)) as core:  # now independent
        await create_user(
            core, EMAIL, password=stored["password"], passwordPepper=stored["passwordPepper"]
        )
        assert (await core.auth.login(email=EMAIL, password=STRONG_PASSWORD)).token


async def test_a_legacy_hash_of_the_current_key_works_without_previous_keys(core) -> None:
    legacy = PasswordHasher(legacy_pepper(TEST_SECRET.encode()), 4).hash_sync(STRONG_PASSWORD)
    await create_user(core, EMAIL, password=legacy.hash)
    checks = core.passwords.hasher.checks
    assert (await core.auth.login(email=EMAIL, password=STRONG_PASSWORD)).token
    assert core.passwords.hasher.checks == checks + 1


async def test_tokens_from_before_kid_and_forged_kids(settings) -> None:
    async with opened_core(_rotated(settings)) as core:
        user = await registered_user(core)
        now = int(time.time())
        claims = {"sub": user["_id"], "jti": "j1", "iat": now, "exp": now + 600, "role": "user"}
        for secret in (TEST_SECRET, NEW_SECRET):  # issued before tokens carried a kid
            token = _raw({"alg": "HS256", "typ": "JWT"}, claims, secret)
            assert (await core.auth.verify_token(token)).user_id == user["_id"]
        old_kid = key_id(TEST_SECRET.encode())
        forged = {
            "kid of a previous key, other key": jwt.encode(
                claims, "an-attacker-key-" + "a" * 40, algorithm="HS256", headers={"kid": old_kid}
            ),
            "kid of the new key, old key": jwt.encode(
                claims, TEST_SECRET, algorithm="HS256", headers={"kid": key_id(NEW_SECRET.encode())}
            ),
            "unknown kid": jwt.encode(
                claims, NEW_SECRET, algorithm="HS256", headers={"kid": "deadbeef"}
            ),
            "kid not a string": _raw({"alg": "HS256", "kid": 7}, claims, NEW_SECRET),
            "jku beside a good kid": jwt.encode(
                claims,
                NEW_SECRET,
                algorithm="HS256",
                headers={"kid": key_id(NEW_SECRET.encode()), "jku": "https://evil.example/k"},
            ),
        }
        for name, token in forged.items():
            with pytest.raises(AuthenticationError):
                await core.auth.verify_token(token)
            assert name


def test_the_pepper_is_its_own_generated_file_or_setting(tmp_path) -> None:
    s = Settings.load(_env_file=None, data_dir=tmp_path / "d", jwt_secret=TEST_SECRET)
    pepper = s.pepper_key()
    path = tmp_path / "d" / "password_pepper"
    assert len(pepper) == 32 and path.read_bytes() == pepper
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert pepper != s.jwt_key() and pepper != legacy_pepper(s.jwt_key())
    rotated = Settings.load(_env_file=None, data_dir=tmp_path / "d", jwt_secret=NEW_SECRET)
    assert rotated.pepper_key() == pepper
    set_ = Settings.load(_env_file=None, data_dir=tmp_path / "d", password_pepper="p" * 40)
    assert set_.pepper_key() == b"p" * 40


@pytest.mark.parametrize(
    ("field", "name"),
    [("password_pepper", "PASSWORD_PEPPER"), ("jwt_previous_secrets", "JWT_PREVIOUS_SECRETS")],
)
async def test_short_keys_stop_startup_naming_the_variable(settings, field, name) -> None:
    bad = settings.model_copy(
        update={
            field: SecretStr("x" * 40 + ",short")
            if field == "jwt_previous_secrets"
            else SecretStr("short")
        }
    )
    with pytest.raises(ConfigError) as exc:
        await open_core(bad)
    assert exc.value.field == name and "at least 32 bytes" in exc.value.message


async def test_a_process_with_another_pepper_stops_at_start(settings) -> None:
    async with opened_core(settings) as core:
        await registered_user(core)
        other = settings.model_copy(update={"password_pepper": SecretStr("q" * 40)})
        with pytest.raises(ConfigError) as exc:
            await open_core(other)
        assert exc.value.field == "PASSWORD_PEPPER"
        assert core.passwords.hasher.pepper_id in exc.value.message
