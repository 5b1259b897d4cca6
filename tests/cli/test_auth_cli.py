"""`apsara auth ...` and `apsara mail outbox` as a new user runs them."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a whole new passphrase"


def _ok(result) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def _fails(result, *needles: str) -> str:
    assert result.returncode == 1, result.stdout
    assert result.stderr.startswith("error:") and "Traceback" not in result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr
    return result.stderr


def _code(cli, email: str) -> str:
    mails = json.loads(
        _ok(cli("--operator", "mail", "outbox", "--to", email, "--limit", "1", "--json"))
    )
    return re.search(r"\b(\d{6})\b", mails[0]["body"]).group(1)


def test_register_verify_login_logout_forgot_reset_flow(cli, tmp_path: Path) -> None:
    email = "newbie@example.com"
    session_file = tmp_path / "data" / "session.json"
    out = _ok(
        cli(
            "auth",
            "register",
            "--name",
            "New Bie",
            "--email",
            email,
            "--password",
            PASSWORD,
            "--accept-terms",
        )
    )
    assert "verification code" in out
    _fails(cli("auth", "login", "--email", email, "--password", PASSWORD), "not verified")
    _ok(cli("auth", "verify-email", "--email", email, "--otp", _code(cli, email)))

    out = _ok(cli("auth", "login", "--email", email, "--password", PASSWORD))
    assert f"logged in as {email}" in out
    stored = json.loads(session_file.read_text())
    assert stat.S_IMODE(session_file.stat().st_mode) == 0o600
    assert stored["token"] not in out and PASSWORD not in out
    _fails(cli("auth", "login", "--email", email, "--password", PASSWORD), "Already logged in")
    me = json.loads(_ok(cli("auth", "whoami", "--json")))
    assert me["email"] == email and me["isEmailVerified"] is True and "password" not in me

    _ok(cli("auth", "logout"))
    assert not session_file.exists()
    _fails(cli("auth", "whoami"), "Not logged in")

    out = _ok(cli("auth", "forgot-password", "--email", email))
    unknown = _ok(cli("auth", "forgot-password", "--email", "nobody@example.com"))
    assert out == unknown
    reset = json.loads(
        _ok(cli("auth", "verify-reset-otp", "--email", email, "--otp", _code(cli, email), "--json"))
    )
    token = reset["resetToken"]
    _fails(
        cli("auth", "reset-password", "--reset-token", token, "--password", "password1"), "common"
    )
    _ok(cli("auth", "reset-password", "--reset-token", token, "--password", NEW_PASSWORD))
    _fails(
        cli("auth", "reset-password", "--reset-token", token, "--password", NEW_PASSWORD),
        "reset token",
    )
    _fails(
        cli("auth", "login", "--email", email, "--password", PASSWORD), "Invalid email or password"
    )
    _ok(cli("auth", "login", "--email", email, "--password", NEW_PASSWORD))
    assert json.loads(_ok(cli("auth", "whoami", "--json")))["email"] == email


def test_switch_revokes_the_old_session_and_logout_all(cli, tmp_path: Path) -> None:
    for email in ("one@example.com", "two@example.com"):
        _ok(
            cli(
                "user",
                "create",
                "--email",
                email,
                "--name",
                "U",
                "--password",
                PASSWORD,
                "--verified",
            )
        )
    _ok(cli("auth", "login", "--email", "one@example.com", "--password", PASSWORD))
    old = json.loads((tmp_path / "data" / "session.json").read_text())["token"]
    _ok(cli("auth", "login", "--email", "two@example.com", "--password", PASSWORD, "--switch"))
    assert json.loads(_ok(cli("auth", "whoami", "--json")))["email"] == "two@example.com"
    (tmp_path / "data" / "session.json").write_text(
        json.dumps({"token": old, "user_id": "x", "email": "one@example.com"})
    )
    _fails(cli("auth", "whoami"), "signed out")
    assert "logged out" in _ok(cli("auth", "logout"))
    assert not (tmp_path / "data" / "session.json").exists()
    _ok(cli("auth", "login", "--email", "two@example.com", "--password", PASSWORD))
    _ok(cli("auth", "logout", "--all", "--json"))
    assert not (tmp_path / "data" / "session.json").exists()


def test_guest_uses_a_stable_machine_key_and_can_register_in_place(cli, tmp_path: Path) -> None:
    first = json.loads(_ok(cli("auth", "guest", "--json")))
    assert first["user"]["role"] == "guest" and first["user"]["messagesLeft"] == 5
    key_file = tmp_path / "data" / "client_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    _ok(cli("auth", "logout"))
    again = json.loads(_ok(cli("auth", "guest", "--json")))
    assert again["user"]["_id"] == first["user"]["_id"]
    out = _ok(cli("auth", "whoami"))
    assert "messages left" in out
    _ok(
        cli(
            "auth",
            "register",
            "--name",
            "Former Guest",
            "--email",
            "fg@example.com",
            "--password",
            PASSWORD,
            "--accept-terms",
        )
    )
    shown = json.loads(_ok(cli("user", "show", "fg@example.com", "--json")))
    assert shown["_id"] == first["user"]["_id"] and shown["role"] == "user"


def test_bad_input_is_one_clear_line(cli) -> None:
    _fails(
        cli(
            "auth",
            "register",
            "--name",
            "X",
            "--email",
            "bad-email",
            "--password",
            PASSWORD,
            "--accept-terms",
        ),
        "email",
    )
    _fails(
        cli("auth", "register", "--name", "X", "--email", "x@example.com", "--password", PASSWORD),
        "acceptTerms",
    )
    _fails(
        cli(
            "auth",
            "register",
            "--name",
            "X",
            "--email",
            "x@example.com",
            "--password",
            "short",
            "--accept-terms",
        ),
        "password",
    )
    _fails(cli("auth", "verify-email", "--email", "x@example.com", "--otp", "12"), "otp")
    _fails(cli("auth", "resend-otp", "--email", "x@example.com", "--purpose", "root"), "purpose")
    _fails(cli("auth", "google", "--id-token", "abc"), "GOOGLE_CLIENT_ID")
    _fails(cli("auth", "logout"), "Not logged in")
    users = json.loads(_ok(cli("user", "list", "--json")))
    assert users == []


def test_google_sign_in_and_outbox_text(cli) -> None:
    from tests.fakes.jwks import FakeGoogle

    google = FakeGoogle().start()
    try:
        env = {"GOOGLE_CLIENT_ID": google.client_id, "GOOGLE_JWKS_URL": google.jwks_url}
        token = google.id_token(sub="g-cli", email="gcli@example.com", name="G Cli")
        out = _ok(cli("auth", "google", "--id-token", token, **env))
        assert "logged in as gcli@example.com" in out and token not in out
        me = json.loads(_ok(cli("auth", "whoami", "--json")))
        assert me["authProvider"] == "google" and me["fullName"] == "G Cli"
        bad = google.id_token(sub="g-cli", audience="other-app")
        _fails(cli("auth", "google", "--id-token", bad, "--switch", **env), "another application")
    finally:
        google.stop()
    _ok(
        cli(
            "auth",
            "register",
            "--name",
            "Text",
            "--email",
            "text@example.com",
            "--password",
            PASSWORD,
            "--accept-terms",
        )
    )
    # a logged-in user reads only mail to their own address (the outbox holds everyone's codes)
    _fails(cli("mail", "outbox", "--to", "text@example.com"), "Only admins")
    assert "text@example.com" not in _ok(cli("mail", "outbox"))
    text = _ok(cli("--operator", "mail", "outbox", "--to", "text@example.com"))
    assert "to text@example.com" in text and "verification code" in text


def test_a_restart_with_a_rotated_jwt_secret_keeps_the_session_and_the_password(
    cli, tmp_path: Path
) -> None:
    import jwt

    from apsara_core.config import key_id
    from tests.conftest import TEST_SECRET

    _ok(
        cli(
            "user",
            "create",
            "--email",
            "rot@example.com",
            "--name",
            "R",
            "--password",
            PASSWORD,
            "--verified",
        )
    )
    _ok(cli("auth", "login", "--email", "rot@example.com", "--password", PASSWORD))
    session_file = tmp_path / "data" / "session.json"
    old = json.loads(session_file.read_text())["token"]
    new_secret = "rotated-secret-" + "r" * 40
    rotated = {"JWT_SECRET": new_secret, "JWT_PREVIOUS_SECRETS": TEST_SECRET}
    assert json.loads(_ok(cli("auth", "whoami", "--json", **rotated)))["email"] == "rot@example.com"
    _ok(
        cli(
            "auth",
            "login",
            "--email",
            "rot@example.com",
            "--password",
            PASSWORD,
            "--switch",
            **rotated,
        )
    )
    new = json.loads(session_file.read_text())["token"]
    assert jwt.get_unverified_header(old)["kid"] == key_id(TEST_SECRET.encode())
    assert jwt.get_unverified_header(new)["kid"] == key_id(new_secret.encode())
    _fails(cli("auth", "whoami", JWT_SECRET=TEST_SECRET), "signed")  # the old key cannot read it
