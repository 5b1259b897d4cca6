"""`apsara auth ...`: Sign-up and sign-in: register, verify, login, Google, guest, password reset, logout.

Sign-in commands keep the session token in `<data dir>/session.json` (mode 0600) and never
print it; `logout` revokes it and deletes the file.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from apsara_core.config import ensure_data_dir
from apsara_core.core import Core
from apsara_core.errors import ValidationError
from apsara_core.services.auth_guests import LOCAL_ADDRESS
from apsara_core.services.auth_tokens import Session
from apsara_core.vocabulary import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH
from apsara_tui.commands.catalog import help_of
from apsara_tui.commands.options import EmailOpt, JsonOpt, SwitchOpt
from apsara_tui.commands.runtime import console, emit, emit_json, run
from apsara_tui.commands.user import show_user

app = typer.Typer(help=help_of("auth"), no_args_is_help=True)
OtpOpt = Annotated[str, typer.Option("--otp", help="The 6-digit code from the mail.")]
CLIENT_KEY_FILE = "client_key"


def _say(data: dict[str, Any], json_out: bool) -> None:
    emit(
        data,
        json_out=json_out,
        human=lambda d: console.print(d.get("message", "done"), highlight=False),
    )


@app.command()
def register(
    name: Annotated[str, typer.Option("--name", help="Full name.")],
    email: EmailOpt,
    password: Annotated[
        str | None,
        typer.Option(
            "--password",
            help=f"{PASSWORD_MIN_LENGTH}-{PASSWORD_MAX_LENGTH} characters "
            "(prompted, hidden, when omitted).",
        ),
    ] = None,
    accept_terms: Annotated[
        bool, typer.Option("--accept-terms", help="Accept the terms (required).")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Create an account; a 6-digit code is mailed (see `apsara mail outbox`). A guest
    session in use is upgraded in place, keeping its conversations."""
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def job(core: Core) -> dict[str, Any]:
        return await core.sessions.register(
            full_name=name, email=email, password=password, accept_terms=accept_terms
        )

    _say(run(job), json_out)


@app.command("verify-email")
def verify_email(email: EmailOpt, otp: OtpOpt, json_out: JsonOpt = False) -> None:
    """Activate an account with the code from the registration mail."""
    _say(run(lambda core: core.auth.verify_email(email=email, otp=otp)), json_out)


@app.command("resend-otp")
def resend_otp(
    email: EmailOpt,
    purpose: Annotated[
        str, typer.Option("--purpose", help="verify_email or reset_password.")
    ] = "verify_email",
    json_out: JsonOpt = False,
) -> None:
    """Mail a new code (the previous one stops working); at most one a minute, 5 an hour."""
    _say(run(lambda core: core.auth.resend_otp(email=email, purpose=purpose)), json_out)


def _sign_in(make: Callable[[Core], Awaitable[Session]], switch: bool, json_out: bool) -> None:
    """Sign in through the core's session service (duplicate-login rule, token stored)."""
    session = run(lambda core: core.sessions.sign_in(lambda: make(core), switch=switch))
    if json_out:
        emit_json({"user": session.user, "expiresAt": session.expires_at})
        return
    who = "a guest" if session.user["isGuest"] else session.user["email"]
    console.print(
        f"logged in as {who} until {session.expires_at:%Y-%m-%d %H:%M} UTC", highlight=False
    )
    if "messagesLeft" in session.user:
        console.print(f"messages left: {session.user['messagesLeft']}", highlight=False)


@app.command()
def login(
    email: EmailOpt,
    password: Annotated[
        str | None,
        typer.Option("--password", help="The password (prompted, hidden, when omitted)."),
    ] = None,
    switch: SwitchOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Sign in with email and password; the session is kept for later commands."""
    if password is None:
        password = typer.prompt("Password", hide_input=True)
    _sign_in(lambda core: core.auth.login(email=email, password=password), switch, json_out)


@app.command()
def google(
    id_token: Annotated[str, typer.Option("--id-token", help="A Google ID token.")],
    switch: SwitchOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Sign in with a Google ID token (needs GOOGLE_CLIENT_ID)."""
    _sign_in(lambda core: core.auth.google(id_token=id_token), switch, json_out)


def default_client_key(data_dir: Path) -> str:
    """A stable id of this machine, kept in the data dir (created once, mode 0600)."""
    path = ensure_data_dir(data_dir) / CLIENT_KEY_FILE
    if not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return path.read_text().strip()
        with os.fdopen(fd, "w") as fh:
            fh.write(f"machine-{uuid.uuid4().hex}")
    return path.read_text().strip()


@app.command()
def guest(
    client_key: Annotated[
        str | None,
        typer.Option(
            "--client-key", help="Ties the guest to a device (default: this machine's id)."
        ),
    ] = None,
    switch: SwitchOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Start a 24 h guest session (5 messages in total per guest)."""

    def make(core: Core) -> Awaitable[Session]:
        key = client_key if client_key is not None else default_client_key(core.settings.data_dir)
        return core.auth.guest(client_key=key, address=LOCAL_ADDRESS)  # the operator

    _sign_in(make, switch, json_out)


@app.command("forgot-password")
def forgot_password(email: EmailOpt, json_out: JsonOpt = False) -> None:
    """Mail a password-reset code (same answer whether or not the account exists)."""
    _say(run(lambda core: core.auth.forgot_password(email=email)), json_out)


@app.command("verify-reset-otp")
def verify_reset_otp(email: EmailOpt, otp: OtpOpt, json_out: JsonOpt = False) -> None:
    """Trade the reset code for a reset token (15 minutes, single use) and print it."""
    data = run(lambda core: core.auth.verify_reset_otp(email=email, otp=otp))
    if json_out:
        emit_json(data)
    else:
        console.print(data["message"], highlight=False)
        console.print(f"reset token: {data['resetToken']}", highlight=False)


@app.command("reset-password")
def reset_password(
    reset_token: Annotated[str, typer.Option("--reset-token", help="From verify-reset-otp.")],
    password: Annotated[
        str | None,
        typer.Option("--password", help="The new password (prompted, hidden, when omitted)."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Set a new password; every session of the account is signed out."""
    if password is None:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    _say(
        run(lambda core: core.auth.reset_password(reset_token=reset_token, new_password=password)),
        json_out,
    )


@app.command()
def logout(
    all_sessions: Annotated[
        bool, typer.Option("--all", help="End every session of the account.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Revoke the stored session (or all sessions) and delete the session file."""

    async def job(core: Core) -> dict[str, Any]:
        done = await core.sessions.sign_out(everywhere=all_sessions)
        if done.who is None:
            raise ValidationError("Not logged in", suggestions=["apsara auth login --email E"])
        return {"success": True, "message": done.message}

    _say(run(job), json_out)


@app.command()
def whoami(json_out: JsonOpt = False) -> None:
    """Show the logged-in user (the stored session is verified)."""

    async def job(core: Core) -> dict[str, Any]:
        if core.sessions.stored() is None:
            raise ValidationError("Not logged in", suggestions=["apsara auth login --email E"])
        principal = await core.sessions.resolve_actor()
        user = await core.users.get(actor=principal, user=principal.user_id)
        if user["isGuest"]:
            user["messagesLeft"] = await core.auth.messages_left(user)
        return user

    emit(run(job), json_out=json_out, human=show_user)
