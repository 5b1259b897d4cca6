"""Sign-up and sign-in: registration with an emailed code, password login with lockout,
JWT sessions, guests, Google sign-in, password reset, logout.

Answers never tell whether an email has an account: register, forgot-password and resend
say the same thing either way, a wrong password looks exactly like an unknown email, and a
locked address answers the same whatever the password (auth_lockout).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from apsara_core.clock import Clock
from apsara_core.config import Settings
from apsara_core.errors import (
    AccountLockedError,
    ApsaraError,
    AuthenticationError,
    ConflictError,
    RateLimitError,
)
from apsara_core.models import Principal
from apsara_core.repos import tokens as token_repo
from apsara_core.repos import users as repo
from apsara_core.services import auth_mails as mails
from apsara_core.services.auth_guests import GuestAccounts
from apsara_core.services.auth_lockout import LoginGuard, locked_answer
from apsara_core.services.auth_otp import OtpManager, wrong_code
from apsara_core.services.auth_tokens import Session, TokenSigner, invalid_token
from apsara_core.services.hints import ADMIN_UNLOCK, resend_otp_hint, verify_email_hint
from apsara_core.services.inputs import (
    EmailInput,
    GoogleInput,
    GuestInput,
    LoginInput,
    OtpInput,
    RegisterInput,
    ResendInput,
    ResetInput,
    parse,
)
from apsara_core.services.limits import LimitsService
from apsara_core.services.mail import MailService
from apsara_core.services.password_store import PasswordStore
from apsara_core.services.passwords import StoredPassword, check_policy
from apsara_core.services.users import new_user_doc, public_user
from apsara_core.vocabulary import FULL_NAME_MAX_LENGTH

if TYPE_CHECKING:  # imported on first Google sign-in (it loads jwt and cryptography)
    from apsara_core.services.auth_google import GoogleVerifier

GUEST_LIFETIME = timedelta(hours=24)
GUEST_SESSIONS_PER_HOUR = 10
GUEST_MESSAGES = 5


def bad_credentials() -> AuthenticationError:
    """The one answer for an unknown email and a wrong password."""
    return AuthenticationError(
        "Invalid email or password",
        code="INVALID_CREDENTIALS",
        suggestions=["Check the email and password, or use forgot-password"],
    )


def _locked(user: dict[str, Any], now: datetime) -> bool:
    until = user.get("lockedUntil")
    return until is not None and until > now


def _check_not_locked(user: dict[str, Any], now: datetime) -> None:
    if _locked(user, now):
        until = user["lockedUntil"].strftime("%H:%M UTC")
        raise AccountLockedError(
            f"This account is locked until {until} after too many failed sign-ins",
            suggestions=["Wait 15 minutes", ADMIN_UNLOCK],
        )


check_not_locked = _check_not_locked


class AuthService:
    """Registration, login, tokens, guests, Google sign-in, password reset."""

    def __init__(
        self,
        *,
        db: AsyncDatabase,
        settings: Settings,
        passwords: PasswordStore,
        mail: MailService,
        limits: LimitsService,
        clock: Clock,
        defer: Callable[[Coroutine[Any, Any, Any], str], object],
    ) -> None:
        """`defer(job, what)` runs a job after the current answer (the lock mail)."""
        self._db = db
        self._settings = settings
        self._passwords = passwords
        self._mail = mail
        self._limits = limits
        self._clock = clock
        self._signer = TokenSigner(settings.jwt_keys())
        # Keyed by the pepper, not the JWT key: rotating JWT_SECRET must not void codes.
        pepper = hmac.new(settings.pepper_key(), b"apsara-otp-pepper", hashlib.sha256).digest()
        self._otp = OtpManager(db=db, pepper=pepper, clock=clock)
        self._google_verifier: GoogleVerifier | None = None  # built on first Google sign-in
        self._guard = LoginGuard(db=db, passwords=passwords, mail=mail, clock=clock, defer=defer)
        self._guests = GuestAccounts(db=db, settings=settings, clock=clock)

    # -- registration and codes -------------------------------------------------------

    async def register(
        self,
        *,
        full_name: str,
        email: str,
        password: str,
        accept_terms: bool,
        actor: Principal | None = None,
    ) -> dict[str, Any]:
        """Create an unverified account and mail a code (a guest `actor` is upgraded in place).

        The answer is the same when the email already has an account; that mail then says so.

        Raises:
            ValidationError: naming the field (email, password, fullName, acceptTerms).
        """
        data = parse(
            RegisterInput,
            {
                "fullName": full_name,
                "email": email,
                "password": password,
                "acceptTerms": accept_terms,
            },
        )
        hashed = await self._passwords.hash(check_policy(data.password))  # both paths pay it
        created = await self._create_account(data.email, data.full_name, hashed, actor)
        kind = "verify_email" if created else "account_exists"
        if await self._otp.may_send(data.email, kind):  # throttled: no mail, same answer
            if created:
                code = await self._otp.new_code(data.email, "verify_email")
                await self._mail.send(to=data.email, **mails.verification(data.full_name, code))
            else:
                await self._mail.send(to=data.email, **mails.already_registered())
        return {"success": True, "message": mails.REGISTERED}

    async def _create_account(
        self, email: str, name: str, hashed: StoredPassword, actor: Principal | None
    ) -> bool:
        """Store the account (or upgrade the guest); False when the email is taken."""
        if await repo.find_by_email(self._db, email) is not None:
            return False
        fields = {
            "email": email,
            "fullName": name,
            **hashed.fields(),
            "role": "user",
            "subscriptionPlan": "free",
            "authProvider": "local",
            "isGuest": False,
            "isEmailVerified": False,
        }
        try:
            if actor is not None and actor.is_guest:
                return await self._upgrade_guest(actor, fields)
            await repo.insert(
                self._db,
                new_user_doc(email=email, full_name=name, password=hashed, now=self._clock.now()),
            )
        except DuplicateKeyError:
            return False
        return True

    async def _upgrade_guest(self, actor: Principal, fields: dict[str, Any]) -> bool:
        guest = await repo.find_by_id(self._db, actor.user_id)
        if guest is None or not guest.get("isGuest"):
            raise invalid_token("The guest session is no longer valid")
        fields.update(
            formerGuestClientKey=guest.get("guestClientKey"), tokensValidAfter=self._clock.now_ms()
        )
        await repo.update(
            self._db,
            actor.user_id,
            fields,
            now=self._clock.now(),
            unset=("guestClientKey", "guestSessionId"),
        )
        return True

    async def verify_email(self, *, email: str, otp: str) -> dict[str, Any]:
        """Mark the email verified with the code from the registration mail.

        Raises:
            ValidationError: field "otp" (wrong, expired, used, other purpose) or "email".
        """
        data = parse(OtpInput, {"email": email, "otp": otp})
        await self._otp.check(data.email, "verify_email", data.otp)
        user = await repo.find_by_email(self._db, data.email)
        if user is None:
            raise wrong_code()
        await repo.update(
            self._db, str(user["_id"]), {"isEmailVerified": True}, now=self._clock.now()
        )
        return {"success": True, "message": "Email verified: you can sign in now"}

    async def resend_otp(self, *, email: str, purpose: str = "verify_email") -> dict[str, Any]:
        """Send a new code (voiding the previous one); same answer for unknown emails.

        Raises:
            RateLimitError: within 60 s of the last code, or 5 in the hour (for any email).
        """
        data = parse(ResendInput, {"email": email, "purpose": purpose})
        if not await self._otp.may_send(data.email, data.purpose):
            raise await self._otp.throttled(data.email, data.purpose)
        user = await repo.find_by_email(self._db, data.email)
        if user is not None and self._wants_code(user, data.purpose):
            await self._mail_code(user, data.purpose)
        return {"success": True, "message": mails.SENT_IF_ACCOUNT}

    @staticmethod
    def _wants_code(user: dict[str, Any], purpose: str) -> bool:
        if user.get("isGuest"):
            return False
        return purpose == "reset_password" or not user.get("isEmailVerified")

    async def _mail_code(self, user: dict[str, Any], purpose: str) -> None:
        code = await self._otp.new_code(user["email"], purpose)
        body = (
            mails.verification(user["fullName"], code)
            if purpose == "verify_email"
            else mails.reset(user["fullName"], code)
        )
        await self._mail.send(to=user["email"], **body)

    # -- password reset -----------------------------------------------------------------

    async def forgot_password(self, *, email: str) -> dict[str, Any]:
        """Mail a reset code when the email has an account; the same answer otherwise."""
        data = parse(EmailInput, {"email": email})
        if not await self._otp.may_send(data.email, "reset_password"):
            raise await self._otp.throttled(data.email, "reset_password")
        user = await repo.find_by_email(self._db, data.email)
        if user is not None and self._wants_code(user, "reset_password"):
            await self._mail_code(user, "reset_password")
        return {"success": True, "message": mails.SENT_IF_ACCOUNT}

    async def verify_reset_otp(self, *, email: str, otp: str) -> dict[str, Any]:
        """Trade the reset code for a short-lived (15 min) single-use reset token."""
        data = parse(OtpInput, {"email": email, "otp": otp})
        await self._otp.check(data.email, "reset_password", data.otp)
        user = await repo.find_by_email(self._db, data.email)
        if user is None:
            raise wrong_code()
        _check_not_locked(user, self._clock.now())
        token = await self._otp.new_reset_token(str(user["_id"]), data.email)
        return {
            "success": True,
            "resetToken": token,
            "message": "Code accepted: set the new password within 15 minutes",
        }

    async def reset_password(self, *, reset_token: str, new_password: str) -> dict[str, Any]:
        """Set a new password with a reset token; every session of the user ends."""
        data = parse(ResetInput, {"resetToken": reset_token, "password": new_password})
        hashed = await self._passwords.hash(check_policy(data.password))
        user_id = await self._otp.take_reset_token(data.reset_token)
        await repo.update(
            self._db,
            user_id,
            {**hashed.fields(), "tokensValidAfter": self._clock.now_ms(), "isEmailVerified": True},
            now=self._clock.now(),
        )
        return {
            "success": True,
            "message": "Password changed; every session was signed out. Sign in again.",
        }

    # -- sign-in ------------------------------------------------------------------------

    async def login(self, *, email: str, password: str) -> Session:
        """Email + password. Wrong password and unknown email give the same error (after
        the same bcrypt work). Each attempt first takes one of the email's 5 check slots;
        without one, or while the address is locked, every attempt gets the one locked answer
        and the password is not checked.

        Raises:
            AuthenticationError: INVALID_CREDENTIALS or EMAIL_NOT_VERIFIED.
            AccountLockedError: the address is locked (whatever the password).
        """
        data = parse(LoginInput, {"email": email, "password": password})
        slot, user = await asyncio.gather(
            self._guard.take(data.email), repo.find_by_email(self._db, data.email)
        )
        if not slot or (user is not None and _locked(user, self._clock.now())):
            raise await self._guard.refuse(data.email, data.password)
        if not await self._passwords.check(data.password, user):
            await self._guard.failed(data.email, user)
            raise bad_credentials()
        if user is None or not await self._guard.passed(data.email):
            raise locked_answer()  # locked while the password was being checked
        if not user.get("isEmailVerified"):
            raise AuthenticationError(
                "Email not verified: enter the code we mailed you first",
                code="EMAIL_NOT_VERIFIED",
                field="email",
                suggestions=[
                    verify_email_hint(data.email),
                    resend_otp_hint(data.email),
                ],
            )
        return await self._sign_in(user)

    async def _sign_in(self, user: dict[str, Any], lifetime: timedelta | None = None) -> Session:
        """Reset the failure counter and issue a session token."""
        now = self._clock.now()
        user = await repo.record_login(self._db, str(user["_id"]), now=now) or user
        token, _, expires = self._signer.issue(
            user=user, lifetime=lifetime or self._settings.token_lifetime, now=now
        )
        public = public_user(user)
        if user.get("isGuest"):
            public["messagesLeft"] = await self.messages_left(user)
        return Session(token=token, user=public, expires_at=expires)

    def _google(self) -> GoogleVerifier:
        """The Google token verifier (imported on first use: it loads jwt and cryptography)."""
        if self._google_verifier is None:
            from apsara_core.services.auth_google import GoogleVerifier

            self._google_verifier = GoogleVerifier(self._settings)
        return self._google_verifier

    async def google(self, *, id_token: str) -> Session:
        """Sign in with a Google ID token: create or link the account by Google `sub`.

        Raises:
            ConfigError: GOOGLE_CLIENT_ID unset. AuthenticationError: the token is refused.
            ConflictError: the email has a password account and Google did not verify it.
        """
        data = parse(GoogleInput, {"idToken": id_token})
        claims = await self._google().verify(data.id_token)
        user = await repo.find_by_google_id(self._db, str(claims["sub"]))
        if user is None:
            user = await self._google_account(claims)
        _check_not_locked(user, self._clock.now())
        return await self._sign_in(user)

    async def _google_account(self, claims: dict[str, Any]) -> dict[str, Any]:
        email, verified = claims.get("email"), claims.get("email_verified") in (True, "true")
        if not isinstance(email, str) or "@" not in email:
            raise AuthenticationError(
                "Google did not share an email address for this account",
                code="INVALID_GOOGLE_TOKEN",
                field="idToken",
            )
        email = repo.normalize_email(email)
        existing = await repo.find_by_email(self._db, email)
        picture = claims.get("picture") if isinstance(claims.get("picture"), str) else None
        if existing is not None:
            if not verified:
                raise ConflictError(
                    "An account with this email exists and Google has not verified the "
                    "address, so it cannot be linked",
                    field="idToken",
                    suggestions=["Sign in with your password instead"],
                )
            fields = {"googleId": str(claims["sub"]), "isEmailVerified": True}
            if picture and not existing.get("picture"):
                fields["picture"] = picture
            # An unverified password was set by someone who never proved the address: drop it.
            drop = () if existing.get("isEmailVerified") else ("password",)
            if drop:
                fields["tokensValidAfter"] = self._clock.now_ms()
            return (
                await repo.update(
                    self._db, str(existing["_id"]), fields, now=self._clock.now(), unset=drop
                )
                or existing
            )
        claimed_name = claims.get("name")
        name = claimed_name if isinstance(claimed_name, str) else email.split("@")[0]
        doc = new_user_doc(
            email=email,
            full_name=name[:FULL_NAME_MAX_LENGTH] or email,
            password=None,
            provider="google",
            verified=verified,
            googleId=str(claims["sub"]),
            picture=picture,
            now=self._clock.now(),
        )
        try:
            await repo.insert(self._db, doc)
        except DuplicateKeyError:  # a parallel first sign-in won
            return await repo.find_by_google_id(self._db, str(claims["sub"])) or doc
        return doc

    async def guest(self, *, client_key: str, address: str) -> Session:
        """A 24 h guest session; one guest user per client key, so its 5-message allowance
        never resets; at most 10 new sessions per key per hour, and at most
        APSARA_GUEST_ACCOUNTS_PER_ADDRESS_PER_DAY new guest accounts per client address.

        Args:
            client_key: ties the guest to a device (chosen by the client).
            address: the client's network address as the front end resolved it (HTTP:
                after trusted-proxy resolution), or LOCAL_ADDRESS for the operator's CLI/TUI.

        Raises:
            ValidationError: clientKey missing or over 200 characters; a bad address.
            RateLimitError: too many guest sessions for this key this hour, or too many new
                guest accounts from this address today.
        """
        data = parse(GuestInput, {"clientKey": client_key})
        user = await self._guests.find_or_create(data.client_key, address)
        now = self._clock.now()
        _check_not_locked(user, now)
        window = now.replace(minute=0, second=0, microsecond=0)
        if not await repo.take_guest_session(
            self._db, str(user["_id"]), window, GUEST_SESSIONS_PER_HOUR
        ):
            raise RateLimitError(
                "Too many guest sessions from this client: at most "
                f"{GUEST_SESSIONS_PER_HOUR} per hour",
                field="clientKey",
                reset_time=window + timedelta(hours=1),
                usage_info={"scope": "guestSessions", "limit": GUEST_SESSIONS_PER_HOUR},
            )
        return await self._sign_in(user, GUEST_LIFETIME)

    async def messages_left(self, user: dict[str, Any]) -> int:
        """A guest's remaining lifetime messages (from the limits service)."""
        try:
            info = await self._limits.quota(actor=Principal.of_user(user))
        except (ImportError, ApsaraError):
            info = {}
        limits = info.get("guestLimits") or {}
        used = limits.get("totalMessagesUsed")
        if used is None:
            doc = await self._db.user_usage.find_one({"_id": str(user["_id"])})
            used = ((doc or {}).get("guestLimits") or {}).get("totalMessagesUsed", 0)
        return max(0, int(limits.get("totalMessagesLimit", GUEST_MESSAGES)) - int(used))

    # -- tokens -------------------------------------------------------------------------

    async def verify_token(self, token: str) -> Principal:
        """The principal of a session token, with the user's CURRENT role and plan.

        Raises:
            AuthenticationError: forged, expired, revoked, ended or malformed token.
            AccountLockedError: the account is locked.
        """
        claims = self._signer.decode(token)
        revoked, user = await asyncio.gather(
            token_repo.is_revoked(self._db, claims["jti"]), repo.find_by_id(self._db, claims["sub"])
        )
        if revoked:
            raise invalid_token("This session was signed out")
        if user is None:
            raise invalid_token("The account of this session no longer exists")
        valid_after = user.get("tokensValidAfter")
        if valid_after is not None and float(claims["iat"]) < valid_after.timestamp():
            raise invalid_token("This session was ended (signed out everywhere or password reset)")
        _check_not_locked(user, self._clock.now())
        return Principal.of_user(user, jti=claims["jti"])

    async def logout(self, *, token: str) -> None:
        """Revoke this token at once (kept until it would have expired)."""
        claims = self._signer.decode(token)
        await token_repo.revoke(
            self._db,
            claims["jti"],
            claims["sub"],
            datetime.fromtimestamp(claims["exp"], UTC),
            self._clock.now(),
        )

    async def logout_all(self, *, actor: Principal) -> None:
        """End every session of the actor (tokens issued before now stop working)."""
        await repo.update(
            self._db,
            actor.user_id,
            {"tokensValidAfter": self._clock.now_ms()},
            now=self._clock.now(),
        )
