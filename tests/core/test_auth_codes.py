"""Registration, one-time codes and password reset."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from apsara_core.core import Core
from apsara_core.errors import AuthenticationError, RateLimitError, ValidationError
from apsara_core.services.sessions import OPERATOR
from tests.factories import STRONG_PASSWORD, latest_code, let_codes_be_resent, registered_user

REG = {
    "full_name": "Ada Lovelace",
    "email": "ada@example.com",
    "password": STRONG_PASSWORD,
    "accept_terms": True,
}


async def test_register_stores_an_unverified_user_and_mails_a_hashed_code(core: Core) -> None:
    answer = await core.auth.register(**REG)
    assert answer["success"] is True
    user = await core.db.users.find_one({"email": "ada@example.com"})
    assert user["isEmailVerified"] is False and user["role"] == "user"
    assert user["subscriptionPlan"] == "free" and user["authProvider"] == "local"
    code = await latest_code(core, "ada@example.com")
    otp = await core.db.otps.find_one({"_id": "code:verify_email:ada@example.com"})
    assert code not in str(otp) and len(otp["codeHash"]) == 64
    ttl = (otp["expiresAt"] - otp["createdAt"]).total_seconds()
    assert ttl == 600
    assert (await core.auth.verify_email(email="ada@example.com", otp=code))["success"]
    assert (await core.db.users.find_one({"_id": user["_id"]}))["isEmailVerified"] is True


async def test_code_is_single_use(core: Core) -> None:
    await core.auth.register(**REG)
    code = await latest_code(core, "ada@example.com")
    await core.auth.verify_email(email="ada@example.com", otp=code)
    with pytest.raises(ValidationError) as exc:
        await core.auth.verify_email(email="ada@example.com", otp=code)
    assert exc.value.field == "otp"


async def test_duplicate_registration_answers_the_same_and_mails_already_registered(
    core: Core,
) -> None:
    first = await core.auth.register(**REG)
    second = await core.auth.register(
        **{**REG, "full_name": "Impostor", "password": "another fine pass"}
    )
    new_email = await core.auth.register(**{**REG, "email": "fresh@example.com"})
    assert first == second == new_email
    assert await core.db.users.count_documents({"email": "ada@example.com"}) == 1
    mails = await core.mail.outbox(actor=OPERATOR, to="ada@example.com")
    assert "already have an" in mails[0]["subject"] + mails[0]["body"]
    assert (await core.db.users.find_one({"email": "ada@example.com"}))[
        "fullName"
    ] == "Ada Lovelace"


async def test_wrong_expired_and_foreign_purpose_codes_are_refused(core: Core) -> None:
    user = await registered_user(core)
    await core.auth.forgot_password(email=user["email"])
    reset_code = await latest_code(core, user["email"])
    with pytest.raises(ValidationError):  # a reset code cannot verify an email
        await core.auth.verify_email(email=user["email"], otp=reset_code)
    await core.db.otps.update_one(
        {"_id": f"code:reset_password:{user['email']}"},
        {"$set": {"expiresAt": datetime.now(UTC) - timedelta(seconds=1)}},
    )
    with pytest.raises(ValidationError) as exc:
        await core.auth.verify_reset_otp(email=user["email"], otp=reset_code)
    assert exc.value.field == "otp" and "expired" in exc.value.message


async def test_five_wrong_tries_kill_the_code_so_the_sixth_fails_even_if_right(core: Core) -> None:
    await core.auth.register(**REG)
    code = await latest_code(core, "ada@example.com")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        with pytest.raises(ValidationError):
            await core.auth.verify_email(email="ada@example.com", otp=wrong)
    with pytest.raises(ValidationError):
        await core.auth.verify_email(email="ada@example.com", otp=code)
    assert await core.db.otps.find_one({"_id": "code:verify_email:ada@example.com"}) is None
    assert not (await core.db.users.find_one({"email": "ada@example.com"}))["isEmailVerified"]


async def test_parallel_guesses_are_capped_at_five(core: Core) -> None:
    await core.auth.register(**REG)
    code = await latest_code(core, "ada@example.com")
    guesses = [f"{(int(code) + i) % 1_000_000:06d}" for i in range(1, 30)]
    await asyncio.gather(
        *(core.auth.verify_email(email="ada@example.com", otp=g) for g in guesses),
        return_exceptions=True,
    )
    with pytest.raises(ValidationError):
        await core.auth.verify_email(email="ada@example.com", otp=code)


async def test_new_code_voids_the_previous_one(core: Core) -> None:
    await core.auth.register(**REG)
    old = await latest_code(core, "ada@example.com")
    await let_codes_be_resent(core)
    await core.auth.resend_otp(email="ada@example.com")
    new = await latest_code(core, "ada@example.com")
    if new != old:
        with pytest.raises(ValidationError):
            await core.auth.verify_email(email="ada@example.com", otp=old)
    await core.auth.verify_email(email="ada@example.com", otp=new)


async def test_resend_limited_to_once_a_minute_and_five_an_hour_same_for_unknown(
    core: Core,
) -> None:
    await core.auth.register(**REG)
    for email in ("ada@example.com", "nobody@example.com"):
        if email == "nobody@example.com":
            await core.auth.resend_otp(email=email)
        with pytest.raises(RateLimitError) as exc:
            await core.auth.resend_otp(email=email)
        assert exc.value.reset_time is not None
    answers = []
    for _ in range(3):  # register counted 1; 4 more are allowed this hour
        await let_codes_be_resent(core)
        answers.append(await core.auth.resend_otp(email="ada@example.com"))
    await let_codes_be_resent(core)
    answers.append(await core.auth.resend_otp(email="ada@example.com"))
    await let_codes_be_resent(core)
    with pytest.raises(RateLimitError):
        await core.auth.resend_otp(email="ada@example.com")
    unknown = await core.auth.resend_otp(email="other-nobody@example.com")
    assert all(a == unknown for a in answers)
    assert len(await core.mail.outbox(actor=OPERATOR, to="ada@example.com", limit=50)) == 5


async def test_forgot_password_same_answer_for_unknown_and_no_mail(core: Core) -> None:
    user = await registered_user(core)
    known = await core.auth.forgot_password(email=user["email"])
    unknown = await core.auth.forgot_password(email="ghost@example.com")
    assert known == unknown
    assert await core.mail.outbox(actor=OPERATOR, to="ghost@example.com") == []
    assert "reset code" in (await core.mail.outbox(actor=OPERATOR, to=user["email"]))[0]["body"]


async def test_reset_flow_ends_sessions_and_token_is_single_use(core: Core) -> None:
    user = await registered_user(core)
    session = await core.auth.login(email=user["email"], password=STRONG_PASSWORD)
    await core.auth.forgot_password(email=user["email"])
    answer = await core.auth.verify_reset_otp(
        email=user["email"], otp=await latest_code(core, user["email"])
    )
    token = answer["resetToken"]
    assert token not in str(await core.db.otps.find({}).to_list())
    with pytest.raises(ValidationError) as weak:  # a refused password keeps the token usable
        await core.auth.reset_password(reset_token=token, new_password="password")
    assert weak.value.field == "password"
    await core.auth.reset_password(reset_token=token, new_password="a brand new passphrase")
    with pytest.raises(ValidationError) as reused:
        await core.auth.reset_password(reset_token=token, new_password="yet another passphrase")
    assert reused.value.field == "resetToken"
    with pytest.raises(AuthenticationError):
        await core.auth.verify_token(session.token)
    with pytest.raises(AuthenticationError):
        await core.auth.login(email=user["email"], password=STRONG_PASSWORD)
    fresh = await core.auth.login(email=user["email"], password="a brand new passphrase")
    assert (await core.auth.verify_token(fresh.token)).user_id == user["_id"]


async def test_parallel_reset_with_one_token_succeeds_once(core: Core) -> None:
    user = await registered_user(core)
    await core.auth.forgot_password(email=user["email"])
    token = (
        await core.auth.verify_reset_otp(
            email=user["email"], otp=await latest_code(core, user["email"])
        )
    )["resetToken"]
    results = await asyncio.gather(
        *(
            core.auth.reset_password(reset_token=token, new_password=f"new passphrase {i}")
            for i in range(5)
        ),
        return_exceptions=True,
    )
    assert sum(isinstance(r, dict) for r in results) == 1


async def test_expired_reset_token_is_refused(core: Core) -> None:
    user = await registered_user(core)
    await core.auth.forgot_password(email=user["email"])
    token = (
        await core.auth.verify_reset_otp(
            email=user["email"], otp=await latest_code(core, user["email"])
        )
    )["resetToken"]
    doc = await core.db.otps.find_one({"purpose": "reset_token"})
    assert 899 <= (doc["expiresAt"] - doc["createdAt"]).total_seconds() <= 901
    await core.db.otps.update_one({"_id": doc["_id"]}, {"$set": {"expiresAt": datetime.now(UTC)}})
    with pytest.raises(ValidationError):
        await core.auth.reset_password(reset_token=token, new_password="a brand new passphrase")


@pytest.mark.parametrize(
    "change,field",
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b"}, "email"),
        ({"email": ""}, "email"),
        ({"email": "x" * 300 + "@example.com"}, "email"),
        ({"password": "short"}, "password"),
        ({"password": "p" * 129}, "password"),
        ({"password": "Password123"}, "password"),
        ({"accept_terms": False}, "acceptTerms"),
        ({"accept_terms": None}, "acceptTerms"),
        ({"accept_terms": "true"}, "acceptTerms"),
        ({"email": {"$ne": None}}, "email"),
        ({"password": {"$gt": ""}}, "password"),
        ({"full_name": {"$ne": None}}, "fullName"),
        ({"full_name": "   "}, "fullName"),
        ({"full_name": "n" * 101}, "fullName"),
    ],
)
async def test_bad_registration_input_is_refused_and_nothing_stored(
    core: Core, change, field
) -> None:
    with pytest.raises(ValidationError) as exc:
        await core.auth.register(**{**REG, **change})
    assert exc.value.field == field
    assert await core.db.users.count_documents({}) == 0
    assert await core.db.mail_outbox.count_documents({}) == 0


def test_registration_payload_refuses_unknown_fields() -> None:
    from apsara_core.services.inputs import RegisterInput, parse

    base = {
        "fullName": "A",
        "email": "a@example.com",
        "password": STRONG_PASSWORD,
        "acceptTerms": True,
    }
    for extra in ("role", "subscriptionPlan", "isEmailVerified"):
        with pytest.raises(ValidationError) as exc:
            parse(RegisterInput, {**base, extra: "admin"})
        assert exc.value.field == extra and "not an accepted field" in exc.value.message
    with pytest.raises(ValidationError) as missing:
        parse(RegisterInput, {k: v for k, v in base.items() if k != "acceptTerms"})
    assert missing.value.field == "acceptTerms"


@pytest.mark.parametrize("otp", ["12345", "1234567", "abcdef", "", {"$ne": None}, 123456])
async def test_malformed_codes_name_the_otp_field(core: Core, otp) -> None:
    with pytest.raises(ValidationError) as exc:
        await core.auth.verify_email(email="a@example.com", otp=otp)
    assert exc.value.field == "otp"


async def test_resend_purpose_must_be_known(core: Core) -> None:
    with pytest.raises(ValidationError) as exc:
        await core.auth.resend_otp(email="a@example.com", purpose="admin")
    assert exc.value.field == "purpose"


async def test_locked_account_gets_no_reset_token(core: Core) -> None:
    from apsara_core.errors import AccountLockedError

    user = await registered_user(core)
    for _ in range(5):
        with pytest.raises(AuthenticationError):
            await core.auth.login(email=user["email"], password="wrong password z")
    await core.auth.forgot_password(email=user["email"])
    with pytest.raises(AccountLockedError):
        await core.auth.verify_reset_otp(
            email=user["email"], otp=await latest_code(core, user["email"])
        )
    assert await core.db.otps.count_documents({"purpose": "reset_token"}) == 0
