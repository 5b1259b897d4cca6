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
from apsara_core.errors import AuthenticationError, ConflictError, ValidationError
from apsara_core.models import Principal
from apsara_core.services.auth_guests import LOCAL_ADDRESS
from apsara_core.services.auth_tokens import Session
from apsara_core.session_file import (StoredSession, active_session, delete_session, read_session,
                                      write_session)
from apsara_tui.commands.runtime import console, emit_json, run
from apsara_tui.commands.user import show_user

app = typer.Typer(help="Sign-up and sign-in: register, verify, login, Google, guest, password reset, logout.", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
EmailOpt = Annotated[str, typer.Option("--email", help="The account's email.")]
OtpOpt = Annotated[str, typer.Option("--otp", help="The 6-digit code from the mail.")]
CLIENT_KEY_FILE = "client_key"


def _say(data: dict[str, Any], json_out: bool) -> None:
    emit_json(data) if json_out else console.print(data.get("message", "done"), highlight=False)


async def _current(core: Core) -> Principal | None:
    """The principal of the stored session, or None when there is no valid one."""
    found = await active_session(core)
    return found[1] if found else None


@app.command()
def register(
    name: Annotated[str, typer.Option("--name", help="Full name.")],
    email: EmailOpt,
    password: Annotated[str | None, typer.Option(
        "--password", help="8-128 characters (prompted, hidden, when omitted).")] = None,
    accept_terms: Annotated[bool, typer.Option("--accept-terms", help="Accept the terms (required).")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Create an account; a 6-digit code is mailed (see `apsara mail outbox`). A guest
    session in use is upgraded in place, keeping its conversations."""
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def job(core: Core) -> dict[str, Any]:
        actor = await _current(core)
        return await core.auth.register(full_name=name, email=email, password=password,
                                        accept_terms=accept_terms,
                                        actor=actor if actor and actor.is_guest else None)

    _say(run(job), json_out)


@app.command("verify-email")
def verify_email(email: EmailOpt, otp: OtpOpt, json_out: JsonOpt = False) -> None:
    """Activate an account with the code from the registration mail."""
    _say(run(lambda core: core.auth.verify_email(email=email, otp=otp)), json_out)


@app.command("resend-otp")
def resend_otp(
    email: EmailOpt,
    purpose: Annotated[str, typer.Option("--purpose", help="verify_email or reset_password.")] = "verify_email",
    json_out: JsonOpt = False,
) -> None:
    """Mail a new code (the previous one stops working); at most one a minute, 5 an hour."""
    _say(run(lambda core: core.auth.resend_otp(email=email, purpose=purpose)), json_out)


def _sign_in(make: Callable[[Core], Awaitable[Session]], switch: bool, json_out: bool) -> None:
    """Refuse while a valid session exists (unless --switch), sign in, store the token."""
    async def job(core: Core) -> Session:
        data_dir = core.settings.data_dir
        current, stored = await _current(core), read_session(data_dir)
        if current is not None and not switch:
            raise ConflictError(
                f"Already logged in as {stored.email if stored else current.user_id}",
                suggestions=["Log out first with `apsara auth logout`, or pass --switch"])
        session = await make(core)
        if current is not None and stored is not None:
            await core.auth.logout(token=stored.token)  # the switched-from session ends
        write_session(data_dir, StoredSession(session.token, session.user["_id"],
                                              session.user["email"]))
        return session

    session = run(job)
    if json_out:
        emit_json({"user": session.user, "expiresAt": session.expires_at})
        return
    who = "a guest" if session.user["isGuest"] else session.user["email"]
    console.print(f"logged in as {who} until {session.expires_at:%Y-%m-%d %H:%M} UTC", highlight=False)
    if "messagesLeft" in session.user:
        console.print(f"messages left: {session.user['messagesLeft']}", highlight=False)


SwitchOpt = Annotated[bool, typer.Option("--switch", help="Replace the current session.")]


@app.command()
def login(
    email: EmailOpt,
    password: Annotated[str | None, typer.Option(
        "--password", help="The password (prompted, hidden, when omitted).")] = None,
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
    client_key: Annotated[str | None, typer.Option(
        "--client-key", help="Ties the guest to a device (default: this machine's id).")] = None,
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
    password: Annotated[str | None, typer.Option(
        "--password", help="The new password (prompted, hidden, when omitted).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Set a new password; every session of the account is signed out."""
    if password is None:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    _say(run(lambda core: core.auth.reset_password(reset_token=reset_token,
                                                   new_password=password)), json_out)


@app.command()
def logout(
    all_sessions: Annotated[bool, typer.Option("--all", help="End every session of the account.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Revoke the stored session (or all sessions) and delete the session file."""
    async def job(core: Core) -> dict[str, Any]:
        data_dir = core.settings.data_dir
        stored = read_session(data_dir)
        if stored is None:
            raise ValidationError("Not logged in", suggestions=["apsara auth login --email E"])
        note = ""
        try:
            if all_sessions:
                await core.auth.logout_all(actor=await core.auth.verify_token(stored.token))
            else:
                await core.auth.logout(token=stored.token)
        except AuthenticationError:
            if all_sessions:  # without a valid token we cannot tell whose sessions to end
                raise
            note = " (the session had already ended)"
        finally:
            delete_session(data_dir)
        return {"success": True, "message": f"logged out {stored.email or stored.user_id}"
                + (" everywhere" if all_sessions else "") + note}

    _say(run(job), json_out)


@app.command()
def whoami(json_out: JsonOpt = False) -> None:
    """Show the logged-in user (the stored session is verified)."""
    async def job(core: Core) -> dict[str, Any]:
        stored = read_session(core.settings.data_dir)
        if stored is None:
            raise ValidationError("Not logged in", suggestions=["apsara auth login --email E"])
        principal = await core.auth.verify_token(stored.token)
        user = await core.users.get(actor=principal, user=principal.user_id)
        if user["isGuest"]:
            user["messagesLeft"] = await core.auth.messages_left(user)
        return user

    user = run(job)
    emit_json(user) if json_out else show_user(user)
