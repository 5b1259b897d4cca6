"""The five tabs of action 15 (register, login, Google, guest, forgot password): layout only.

RegistrationScreen (registration.py) handles what they submit.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Button, Checkbox, Static, TabPane

from apsara_core.vocabulary import (
    CLIENT_KEY_MAX_LENGTH,
    FULL_NAME_MAX_LENGTH,
    PASSWORD_MAX_LENGTH,
    PASSWORD_MIN_LENGTH,
)
from apsara_tui.widgets.forms import (
    Form,
    FormField,
    digits,
    email_check,
    length,
    password_checks,
    required,
)

MACHINE_ID_FILES = ("/etc/machine-id", "/var/lib/dbus/machine-id")


def machine_client_key() -> str:
    """A stable per-machine guest client key (a hash: the machine id itself is not shown)."""
    raw = ""
    for name in MACHINE_ID_FILES:
        try:
            raw = Path(name).read_text().strip()
        except OSError:
            continue
        if raw:
            break
    raw = raw or f"{uuid.getnode():012x}"
    return "machine-" + hashlib.sha256(f"apsara:{raw}".encode()).hexdigest()[:24]


def _email(key: str = "email", value: str = "") -> FormField:
    return FormField(
        key,
        "Email",
        checks=[required("an email"), email_check()],
        placeholder="ada@example.com",
        value=value,
    )


def _password(
    key: str,
    label: str,
    placeholder: str = f"{PASSWORD_MIN_LENGTH}–{PASSWORD_MAX_LENGTH} characters",
) -> FormField:
    return FormField(
        key,
        label,
        checks=[required("a password"), *password_checks()],
        password=True,
        placeholder=placeholder,
        aliases=["password", "newPassword"],
    )


def _code(key: str = "otp") -> FormField:
    return FormField(key, "Code", checks=[required("the code"), digits(6)], placeholder="6 digits")


def register_pane() -> ComposeResult:
    """Register, then type the code (the latest outbox mail is shown when no SMTP is set)."""
    with TabPane("Register", id="register"):
        with VerticalScroll():
            yield Form(
                FormField(
                    "full_name",
                    "Full name",
                    checks=[
                        required("your full name"),
                        length(1, FULL_NAME_MAX_LENGTH, "The name"),
                    ],
                ),
                _email(),
                _password("password", "Password"),
                Checkbox("I accept the terms of use", id="accept_terms"),
                submit="Register",
                id="register-form",
            )
            yield Static("Then type the 6-digit code sent to the address:", classes="hint")
            yield Static("", id="verify-mail", classes="mail")
            yield Form(
                _email(),
                _code(),
                submit="Verify email",
                id="verify-form",
                extra_buttons=[Button("Resend code", id="resend-verify")],
            )


def login_pane() -> ComposeResult:
    """Email and password; a second login asks before switching."""
    with TabPane("Login", id="login"):
        with VerticalScroll():
            yield Form(
                _email(),
                FormField(
                    "password", "Password", checks=[required("your password")], password=True
                ),
                submit="Log in",
                id="login-form",
            )
            yield Static("", id="login-result", classes="result")


def google_pane(configured: bool) -> ComposeResult:
    """Paste a Google ID token; it is verified against Google's keys and GOOGLE_CLIENT_ID."""
    note = (
        (
            "Paste a Google ID token (for example from the OAuth 2.0 Playground); name and picture "
            "come from the verified token."
        )
        if configured
        else "Google sign-in is not configured: set GOOGLE_CLIENT_ID (your OAuth client id) and restart."
    )
    with TabPane("Google", id="google"):
        with VerticalScroll():
            yield Static(note, classes="hint")
            yield Form(
                FormField(
                    "id_token",
                    "ID token",
                    checks=[required("the ID token"), length(20, 8192, "The ID token")],
                    placeholder="eyJhbGciOiJSUzI1NiIs…",
                ),
                submit="Sign in with Google",
                id="google-form",
            )
            yield Static("", id="google-result", classes="result")


def guest_pane() -> ComposeResult:
    """A guest session tied to a client key (default: this machine)."""
    with TabPane("Guest", id="guest"):
        with VerticalScroll():
            yield Static(
                "Guests get a 24-hour session and a few messages in total; the allowance "
                "is tied to the client key, so new sessions do not reset it.",
                classes="hint",
            )
            yield Form(
                FormField(
                    "client_key",
                    "Client key",
                    checks=[
                        required("a client key"),
                        length(1, CLIENT_KEY_MAX_LENGTH, "The client key"),
                    ],
                    value=machine_client_key(),
                ),
                submit="Continue as guest",
                id="guest-form",
            )
            yield Static("", id="guest-result", classes="result")


def forgot_pane() -> ComposeResult:
    """Email → code → new password."""
    with TabPane("Forgot password", id="forgot"):
        with VerticalScroll():
            yield Form(
                _email(),
                submit="Send code",
                id="forgot-form",
                extra_buttons=[Button("Resend code", id="resend-reset")],
            )
            yield Static("", id="forgot-mail", classes="mail")
            yield Form(_code(), submit="Check code", id="reset-code-form")
            yield Form(
                _password("new_password", "New password"),
                _password("confirm", "Repeat it", "the same password again"),
                submit="Set password",
                id="reset-form",
            )
            yield Static("", id="forgot-result", classes="result")
