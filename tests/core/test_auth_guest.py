"""Guests: one guest per client key, 24 h sessions, sessions per hour, new guests per client
address per day, upgrade in place."""

from __future__ import annotations

import asyncio
from datetime import UTC

import jwt
import pytest

from apsara_core.core import Core
from apsara_core.errors import AuthenticationError, RateLimitError, ValidationError
from apsara_core.services.auth_guests import LOCAL_ADDRESS
from tests.factories import STRONG_PASSWORD, latest_code

ADDRESS = "203.0.113.9"


async def test_guest_session_lasts_a_day_and_shows_messages_left(core: Core) -> None:
    session = await core.auth.guest(client_key="device-1", address=ADDRESS)
    user = session.user
    assert user["role"] == "guest" and user["subscriptionPlan"] == "guest" and user["isGuest"]
    assert user["authProvider"] == "guest" and user["messagesLeft"] == 5
    claims = jwt.decode(session.token, options={"verify_signature": False})
    assert abs(claims["exp"] - claims["iat"] - 86400) < 2
    principal = await core.auth.verify_token(session.token)
    assert principal.is_guest and principal.plan == "guest"


async def test_same_client_key_gets_the_same_guest_so_the_allowance_never_resets(
    core: Core,
) -> None:
    first = await core.auth.guest(client_key="device-1", address=ADDRESS)
    actor = await core.auth.verify_token(first.token)
    for _ in range(3):  # three messages through the real quota service
        reservation = await core.limits.reserve(actor=actor, model="gemini-2.5-flash")
        await core.limits.commit(reservation, prompt_tokens=1, output_tokens=1)
    second = await core.auth.guest(client_key="device-1", address=ADDRESS)
    assert second.user["_id"] == first.user["_id"] and second.token != first.token
    assert second.user["messagesLeft"] == 2
    other = await core.auth.guest(client_key="device-2", address=ADDRESS)
    assert other.user["_id"] != first.user["_id"]
    assert await core.db.users.count_documents({"isGuest": True}) == 2


async def test_parallel_first_guest_logins_make_one_guest(core: Core) -> None:
    sessions = await asyncio.gather(
        *(core.auth.guest(client_key="same-key", address=ADDRESS) for _ in range(8))
    )
    assert len({s.user["_id"] for s in sessions}) == 1


async def test_at_most_ten_new_guest_sessions_per_key_per_hour(core: Core) -> None:
    results = await asyncio.gather(
        *(core.auth.guest(client_key="busy", address=ADDRESS) for _ in range(14)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, Exception) for r in results) == 10
    errors = [r for r in results if isinstance(r, Exception)]
    assert all(isinstance(e, RateLimitError) and e.reset_time is not None for e in errors)
    assert (await core.auth.guest(client_key="calm", address=ADDRESS)).token


@pytest.mark.parametrize("key", ["", "k" * 201, None, {"$ne": None}, 42])
async def test_client_key_is_required_and_bounded(core: Core, key) -> None:
    with pytest.raises(ValidationError) as exc:
        await core.auth.guest(client_key=key, address=ADDRESS)
    assert exc.value.field == "clientKey"
    assert await core.db.users.count_documents({}) == 0


async def test_guest_cannot_log_in_with_a_password(core: Core) -> None:
    session = await core.auth.guest(client_key="device-1", address=ADDRESS)
    with pytest.raises(ValidationError):  # guest addresses are not usable emails at all
        await core.auth.login(email=session.user["email"], password="any password here")
    with pytest.raises(ValidationError):
        await core.auth.forgot_password(email=session.user["email"])


async def test_guest_who_registers_is_upgraded_in_place(core: Core) -> None:
    session = await core.auth.guest(client_key="device-1", address=ADDRESS)
    guest_id = session.user["_id"]
    await core.db.conversations.insert_one(
        {"conversationId": "c1", "userId": guest_id, "title": "kept"}
    )
    actor = await core.auth.verify_token(session.token)
    await core.auth.register(
        full_name="Was Guest",
        email="was.guest@example.com",
        password=STRONG_PASSWORD,
        accept_terms=True,
        actor=actor,
    )
    user = await core.db.users.find_one({"_id": guest_id})
    assert user["email"] == "was.guest@example.com" and user["role"] == "user"
    assert user["subscriptionPlan"] == "free" and user["authProvider"] == "local"
    assert user["isGuest"] is False and user["isEmailVerified"] is False
    assert "guestClientKey" not in user
    assert await core.db.users.count_documents({}) == 1
    with pytest.raises(AuthenticationError):  # the guest session ended with the upgrade
        await core.auth.verify_token(session.token)
    await core.auth.verify_email(
        email="was.guest@example.com", otp=await latest_code(core, "was.guest@example.com")
    )
    login = await core.auth.login(email="was.guest@example.com", password=STRONG_PASSWORD)
    assert login.user["_id"] == guest_id
    assert (await core.db.conversations.find_one({"conversationId": "c1"}))["userId"] == guest_id


async def test_locked_guest_gets_no_new_session(core: Core) -> None:
    from datetime import datetime, timedelta

    from apsara_core.errors import AccountLockedError

    session = await core.auth.guest(client_key="device-1", address=ADDRESS)
    until = datetime.now(UTC) + timedelta(minutes=15)
    await core.db.users.update_one({"_id": session.user["_id"]}, {"$set": {"lockedUntil": until}})
    with pytest.raises(AccountLockedError):
        await core.auth.guest(client_key="device-1", address=ADDRESS)


async def test_guests_cannot_reach_user_administration(core: Core) -> None:
    from apsara_core.errors import PermissionDeniedError

    actor = await core.auth.verify_token(
        (await core.auth.guest(client_key="d", address=ADDRESS)).token
    )
    with pytest.raises(PermissionDeniedError):
        await core.users.list(actor=actor)
    with pytest.raises(PermissionDeniedError):
        await core.audit.list(actor=actor)


async def test_new_guest_accounts_are_capped_per_address_per_day(core: Core) -> None:
    from datetime import datetime, timedelta

    for i in range(3):  # the default cap
        assert (await core.auth.guest(client_key=f"fresh-{i}", address=ADDRESS)).token
    with pytest.raises(RateLimitError) as exc:
        await core.auth.guest(client_key="fresh-3", address=ADDRESS)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()
    assert exc.value.reset_time.date() == tomorrow and exc.value.reset_time.hour == 0
    assert "per day" in exc.value.message
    assert await core.db.users.count_documents({"guestClientKey": "fresh-3"}) == 0
    again = await core.auth.guest(client_key="fresh-0", address=ADDRESS)  # known keys still work
    assert again.user["messagesLeft"] == 5
    assert (await core.auth.guest(client_key="fresh-3", address="198.51.100.4")).token
    assert (await core.auth.guest(client_key="operator", address=LOCAL_ADDRESS)).token


async def test_an_ipv6_subscriber_shares_one_cap_across_its_64(core: Core) -> None:
    for i in range(3):
        await core.auth.guest(client_key=f"v6-{i}", address=f"2001:db8:1:2::{i + 1}")
    with pytest.raises(RateLimitError):
        await core.auth.guest(client_key="v6-3", address="2001:db8:1:2:ffff::9")
    assert (await core.auth.guest(client_key="v6-3", address="2001:db8:1:3::1")).token


async def test_parallel_first_logins_with_one_key_spend_one_unit(core: Core) -> None:
    sessions = await asyncio.gather(
        *(core.auth.guest(client_key="double-click", address=ADDRESS) for _ in range(8))
    )
    assert len({s.user["_id"] for s in sessions}) == 1
    caps = await core.db.guest_caps.find({}).to_list()
    assert [c["count"] for c in caps] == [1]


@pytest.mark.parametrize("address", ["", " ", "a" * 101, None, {"$ne": None}])
async def test_the_address_is_validated(core: Core, address) -> None:
    with pytest.raises(ValidationError) as exc:
        await core.auth.guest(client_key="k", address=address)
    assert exc.value.field == "address"
    assert await core.db.users.count_documents({}) == 0
