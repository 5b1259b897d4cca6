"""Google sign-in against a local JWKS: signature, audience, issuer, expiry, linking."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from apsara_core.core import Core
from apsara_core.errors import (
    AccountLockedError,
    AuthenticationError,
    ConfigError,
    ConflictError,
    ValidationError,
)
from apsara_core.models import Principal
from apsara_core.services.auth_google import REFETCH_COOLDOWN_S
from tests.factories import STRONG_PASSWORD, registered_user
from tests.fakes.jwks import FakeGoogle, new_key


async def test_first_sign_in_creates_a_google_account_from_verified_claims(
    google_core: Core, google: FakeGoogle
) -> None:
    session = await google_core.auth.google(
        id_token=google.id_token(
            sub="g-1", email="Pat@Gmail.com", name="Pat Example", picture="https://p/x.png"
        )
    )
    user = session.user
    assert user["email"] == "pat@gmail.com" and user["fullName"] == "Pat Example"
    assert user["authProvider"] == "google" and user["isEmailVerified"] is True
    assert user["picture"] == "https://p/x.png"
    stored = await google_core.db.users.find_one({"googleId": "g-1"})
    assert stored["_id"] == user["_id"] and "password" not in stored
    again = await google_core.auth.google(
        id_token=google.id_token(sub="g-1", email="pat@gmail.com")
    )
    assert again.user["_id"] == user["_id"]
    assert (await google_core.auth.verify_token(again.token)).user_id == user["_id"]


async def test_links_to_a_password_account_only_when_email_verified(
    google_core: Core, google: FakeGoogle
) -> None:
    local = await registered_user(google_core, email="sam@example.com")
    with pytest.raises(ConflictError) as exc:
        await google_core.auth.google(
            id_token=google.id_token(sub="g-2", email="sam@example.com", email_verified=False)
        )
    assert "verified" in exc.value.message
    assert "googleId" not in await google_core.db.users.find_one({"_id": local["_id"]})
    session = await google_core.auth.google(
        id_token=google.id_token(sub="g-2", email="sam@example.com")
    )
    assert session.user["_id"] == local["_id"]
    stored = await google_core.db.users.find_one({"_id": local["_id"]})
    assert stored["googleId"] == "g-2" and stored["fullName"] == "Reg User"
    assert (await google_core.auth.login(email="sam@example.com", password=STRONG_PASSWORD)).token


async def test_linking_an_unverified_password_account_drops_that_password(
    google_core: Core, google: FakeGoogle
) -> None:
    # someone registered the victim's address but never verified it
    await google_core.auth.register(
        full_name="Squatter",
        email="victim@example.com",
        password=STRONG_PASSWORD,
        accept_terms=True,
    )
    session = await google_core.auth.google(
        id_token=google.id_token(sub="g-v", email="victim@example.com")
    )
    assert session.user["isEmailVerified"] is True
    with pytest.raises(AuthenticationError) as exc:
        await google_core.auth.login(email="victim@example.com", password=STRONG_PASSWORD)
    assert exc.value.code == "INVALID_CREDENTIALS"


async def test_issuer_without_scheme_is_accepted(google_core: Core, google: FakeGoogle) -> None:
    session = await google_core.auth.google(
        id_token=google.id_token(sub="g-iss", email="iss@example.com", issuer="accounts.google.com")
    )
    assert session.user["email"] == "iss@example.com"


async def test_locked_account_gets_no_token_through_google(
    google_core: Core, google: FakeGoogle
) -> None:
    await google_core.auth.google(id_token=google.id_token(sub="g-3", email="lock@example.com"))
    until = datetime.now(UTC) + timedelta(minutes=15)
    await google_core.db.users.update_one({"googleId": "g-3"}, {"$set": {"lockedUntil": until}})
    with pytest.raises(AccountLockedError):
        await google_core.auth.google(id_token=google.id_token(sub="g-3", email="lock@example.com"))


async def test_bad_google_tokens_are_refused(google_core: Core, google: FakeGoogle) -> None:
    bad = {
        "wrong audience": google.id_token(audience="someone-else"),
        "wrong issuer": google.id_token(issuer="https://evil.example.com"),
        "expired": google.id_token(expires_in=-3600),
        "other key same kid": google.id_token(key=new_key()),
        "unknown kid": google.id_token(kid="no-such-kid"),
        "no exp": google.id_token(drop=("exp",)),
        "jku header": google.id_token(headers={"jku": "https://evil.example/jwks"}),
        "malformed": "abc.def",
    }
    for name, token in bad.items():
        with pytest.raises(AuthenticationError) as exc:
            await google_core.auth.google(id_token=token)
        assert exc.value.code == "INVALID_GOOGLE_TOKEN", name
    hs = jwt.encode({"sub": "x", "aud": google.client_id}, "s" * 40, algorithm="HS256")
    with pytest.raises(AuthenticationError):
        await google_core.auth.google(id_token=hs)
    assert await google_core.db.users.count_documents({}) == 0


async def test_keys_are_cached_and_refetched_on_an_unknown_kid(
    google_core: Core, google: FakeGoogle
) -> None:
    google.rotate()
    before = google.fetches
    await google_core.auth.google(id_token=google.id_token(sub="g-4", email="k@example.com"))
    await google_core.auth.google(id_token=google.id_token(sub="g-4", email="k@example.com"))
    assert google.fetches == before + 1  # fetched once, then cached
    google.rotate()  # Google publishes a new key: the unknown kid triggers one refetch
    await asyncio.sleep(REFETCH_COOLDOWN_S + 0.1)  # (at most one refetch per cooldown)
    await google_core.auth.google(id_token=google.id_token(sub="g-4", email="k@example.com"))
    assert google.fetches == before + 2


async def test_name_comes_from_the_token_never_from_the_caller(
    google_core: Core, google: FakeGoogle
) -> None:
    with pytest.raises(TypeError):
        await google_core.auth.google(id_token=google.id_token(), name="Injected")  # type: ignore[call-arg]
    from apsara_core.services.inputs import GoogleInput, parse

    with pytest.raises(ValidationError) as exc:
        parse(GoogleInput, {"idToken": google.id_token(), "email": "x@example.com"})
    assert exc.value.field == "email"


async def test_unset_client_id_is_a_clear_config_error(core: Core, google: FakeGoogle) -> None:
    with pytest.raises(ConfigError) as exc:
        await core.auth.google(id_token=google.id_token())
    assert "GOOGLE_CLIENT_ID" in exc.value.message


async def test_admin_sees_google_provider_in_lists(google_core: Core, google: FakeGoogle) -> None:
    await google_core.auth.google(id_token=google.id_token(sub="g-5", email="list@example.com"))
    page = await google_core.users.list(actor=Principal.operator(), provider="google")
    assert [u["email"] for u in page["items"]] == ["list@example.com"]
