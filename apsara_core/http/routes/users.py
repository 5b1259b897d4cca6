"""Authentication endpoints: /api/users/... (the spec's table, plus logout and me)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from apsara_core.http import responses
from apsara_core.http.deps import (
    bearer_token,
    client_address,
    client_key,
    core_of,
    doc_route,
    ok,
    read_json,
    require_actor,
)
from apsara_core.http.schemas import GoogleBody, GuestBody, ResetPasswordBody
from apsara_core.services.inputs import EmailInput, LoginInput, OtpInput, RegisterInput, ResendInput


async def register(request: Request) -> JSONResponse:
    """Register with OTP verification (same answer whether or not the email is known)."""
    body = await read_json(request, RegisterInput)
    token = bearer_token(request)
    actor = await core_of(request).auth.verify_token(token) if token else None
    result = await core_of(request).auth.register(
        full_name=body.full_name,
        email=body.email,
        password=body.password,
        accept_terms=body.accept_terms,
        actor=actor if actor and actor.is_guest else None,
    )
    return ok(201, **result)


async def verify_email(request: Request) -> JSONResponse:
    """Verify an email with its one-time code."""
    body = await read_json(request, OtpInput)
    return ok(**await core_of(request).auth.verify_email(email=body.email, otp=body.otp))


async def resend_otp(request: Request) -> JSONResponse:
    """Send a new code (rate limited; same answer for unknown emails)."""
    body = await read_json(request, ResendInput)
    return ok(**await core_of(request).auth.resend_otp(email=body.email, purpose=body.purpose))


async def login(request: Request) -> JSONResponse:
    """Email and password login; returns a session token."""
    body = await read_json(request, LoginInput)
    session = await core_of(request).auth.login(email=body.email, password=body.password)
    return ok(message="Logged in", **session.to_dict())


async def google_auth(request: Request) -> JSONResponse:
    """Sign in with a Google ID token (identity from the verified token only)."""
    body = await read_json(request, GoogleBody)
    session = await core_of(request).auth.google(id_token=body.id_token)
    return ok(message="Logged in with Google", **session.to_dict())


async def guest_login(request: Request) -> JSONResponse:
    """A guest session (24 h, 5 messages in total per client)."""
    body = await read_json(request, GuestBody)
    key = f"client:{body.clientKey}" if body.clientKey else client_key(request)
    session = await core_of(request).auth.guest(client_key=key, address=client_address(request))
    return ok(201, message="Guest session started", **session.to_dict())


async def forgot_password(request: Request) -> JSONResponse:
    """Mail a reset code (same answer for unknown emails)."""
    body = await read_json(request, EmailInput)
    return ok(**await core_of(request).auth.forgot_password(email=body.email))


async def verify_reset_otp(request: Request) -> JSONResponse:
    """Trade a reset code for a short-lived, single-use reset token."""
    body = await read_json(request, OtpInput)
    return ok(**await core_of(request).auth.verify_reset_otp(email=body.email, otp=body.otp))


async def reset_password(request: Request) -> JSONResponse:
    """Set a new password with a reset token; ends every session."""
    body = await read_json(request, ResetPasswordBody)
    return ok(
        **await core_of(request).auth.reset_password(
            reset_token=body.resetToken, new_password=body.newPassword
        )
    )


async def logout(request: Request) -> JSONResponse:
    """Revoke this session's token at once."""
    await require_actor(request)
    await core_of(request).auth.logout(token=bearer_token(request) or "")
    return ok(message="Logged out")


async def logout_all(request: Request) -> JSONResponse:
    """End every session of the caller."""
    actor = await require_actor(request)
    await core_of(request).auth.logout_all(actor=actor)
    return ok(message="All sessions ended")


async def me(request: Request) -> JSONResponse:
    """The caller's account."""
    actor = await require_actor(request)
    return ok(user=await core_of(request).users.get(actor=actor, user=actor.user_id))


R = responses
ROUTES = [
    doc_route(
        "/users/register", register, ok=R.Message, status=201, body=RegisterInput, public=True
    ),
    doc_route("/users/verify-email", verify_email, ok=R.Message, body=OtpInput, public=True),
    doc_route("/users/resend-otp", resend_otp, ok=R.Message, body=ResendInput, public=True),
    doc_route("/users/login", login, ok=R.Session, body=LoginInput, public=True, errors=(423,)),
    doc_route(
        "/users/google-auth", google_auth, ok=R.Session, body=GoogleBody, public=True, errors=(423,)
    ),
    doc_route(
        "/users/guest-login",
        guest_login,
        ok=R.Session,
        status=201,
        body=GuestBody,
        public=True,
        errors=(423,),
    ),
    doc_route(
        "/users/forgot-password", forgot_password, ok=R.Message, body=EmailInput, public=True
    ),
    doc_route(
        "/users/verify-reset-otp", verify_reset_otp, ok=R.ResetToken, body=OtpInput, public=True
    ),
    doc_route(
        "/users/reset-password", reset_password, ok=R.Message, body=ResetPasswordBody, public=True
    ),
    doc_route("/users/logout", logout, ok=R.Message),
    doc_route("/users/logout-all", logout_all, ok=R.Message),
    doc_route("/users/me", me, "GET", ok=R.Me),
]
