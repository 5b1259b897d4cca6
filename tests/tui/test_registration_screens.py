"""Actions 15 and 16 and the session restore: register → code → login → switch → logout,
Google by pasted ID token, guest, forgot password → code → new password."""

from __future__ import annotations

import re
import stat

import pytest
from textual.widgets import Checkbox, TabbedContent

from apsara_core.core import Core
from apsara_core.errors import AuthenticationError
from apsara_core.models import Principal
from apsara_core.session_file import StoredSession, read_session, session_path, write_session
from apsara_tui.app import ApsaraApp
from apsara_tui.screens.logout import LogoutScreen
from apsara_tui.screens.registration import RegistrationScreen
from apsara_tui.screens.registration_panes import machine_client_key
from apsara_tui.widgets.confirm import ConfirmModal
from tests.fakes.jwks import FakeGoogle
from tests.tui.account_helpers import fill, form, notes, open_action, settle, submit, text_of

PASSWORD = "violet-kettle-harbour"


def _code(text: str) -> str:
    match = re.search(r"code is (\d{6})", text)
    assert match, text
    return match.group(1)


async def _verified_user(
    core: Core, email: str = "lin@example.com", password: str = PASSWORD
) -> dict:
    return await core.users.create(
        actor=Principal.operator(), email=email, full_name="Lin", password=password, verified=True
    )


def _store(app: ApsaraApp, session) -> None:
    """Leave a session file as `apsara auth login` would."""
    write_session(
        app.core.settings.data_dir,
        StoredSession(session.token, session.user["_id"], session.user["email"]),
    )


async def _tab(pilot, tab: str) -> None:
    await pilot.press(
        {"register": "f2", "login": "f3", "google": "f4", "guest": "f5", "forgot": "f6"}[tab]
    )
    await pilot.pause()
    assert pilot.app.screen.query_one(TabbedContent).active == tab


# -- register and verify ------------------------------------------------------------------------


async def test_register_shows_the_outbox_mail_and_its_code_verifies(app: ApsaraApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.open_action(15)  # typing two digits is tested in test_shell.py
        await settle(pilot)
        assert isinstance(app.screen, RegistrationScreen)
        assert app.focused is app.screen.query_one("#register-form Input")  # the first field
        await fill(
            pilot,
            "register-form",
            full_name="Mira Sol",
            email="Mira@Example.com",
            password=PASSWORD,
        )
        app.screen.query_one("#accept_terms", Checkbox).value = True
        await submit(pilot, "register-form")
        await pilot.pause()
        shown = app.screen.query_one("#verify-mail")
        assert 0 <= shown.region.y < 24 and shown.region.height  # on screen at 80×24
        mail = text_of(app, "#verify-mail")
        assert (
            "Latest outbox mail to mira@example.com" in mail and "EMAIL_SMTP_URL is not set" in mail
        )
        user = await app.core.db.users.find_one({"email": "mira@example.com"})
        assert user["isEmailVerified"] is False
        assert await app.core.db.mail_outbox.count_documents({"to": "mira@example.com"}) == 1
        assert app.focused is form(app, "verify-form").field("otp").input
        await pilot.pause(0.1)
        screen_area = app.screen.region
        for widget in (
            app.screen.query_one("#verify-mail"),
            app.focused,
        ):  # both on screen at 80x24
            assert widget.region.area and screen_area.contains_region(widget.region), widget
        await pilot.press(*_code(mail), "enter")
        await settle(pilot)
        assert app.screen.query_one(TabbedContent).active == "login"  # next step: log in
        assert "ctrl+y copies the code" in mail
        assert form(app, "login-form").field("email").value == "Mira@Example.com"
    user = await app.core.db.users.find_one({"email": "mira@example.com"})
    assert user["isEmailVerified"] is True


async def test_ctrl_y_copies_the_code_of_the_shown_mail(app: ApsaraApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.open_action(15)
        await settle(pilot)
        footer_keys = {k: b.binding.description for k, b in app.screen.active_bindings.items()}
        assert footer_keys["ctrl+y"] == "Copy code"  # shown in the footer
        await pilot.press("ctrl+y")  # nothing shown yet: says what to do
        await pilot.pause()
        assert app.clipboard == "" and "No mail with a code" in notes(app)
        await fill(
            pilot, "register-form", full_name="Ode Lark", email="ode@example.com", password=PASSWORD
        )
        app.screen.query_one("#accept_terms", Checkbox).value = True
        await submit(pilot, "register-form")
        await settle(pilot)
        code = _code(text_of(app, "#verify-mail"))
        await pilot.press("ctrl+y")
        await pilot.pause()
        assert app.clipboard == code
        assert f"Copied the code {code}" in notes(app)


async def test_register_bad_input_stores_nothing(app: ApsaraApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await open_action(pilot, 15)
        await fill(pilot, "register-form", full_name="", email="mira@", password="short")
        await submit(pilot, "register-form")
        register = form(app, "register-form")
        assert register.field("full_name").error == "Enter your full name"
        assert "email address" in register.field("email").error
        assert "8–128" in register.field("password").error
        await fill(
            pilot, "register-form", full_name="Mira", email="mira@example.com", password=PASSWORD
        )
        await submit(pilot, "register-form")  # terms not accepted
        assert "Accept the terms" in notes(app)
        await fill(pilot, "verify-form", email="mira@example.com", otp="12ab")
        await submit(pilot, "verify-form")
        assert "6-digit code" in form(app, "verify-form").field("otp").error
    assert await app.core.db.users.count_documents({}) == 0
    assert await app.core.db.mail_outbox.count_documents({}) == 0


async def test_wrong_code_is_refused_resend_mails_a_code_and_is_throttled(app: ApsaraApp) -> None:
    await app.core.users.create(
        actor=Principal.operator(), email="kai@example.com", full_name="Kai", password=PASSWORD
    )  # unverified, no code mailed yet
    async with app.run_test(size=(80, 24)) as pilot:
        await open_action(pilot, 15)
        await fill(pilot, "verify-form", email="kai@example.com", otp="000000")
        await submit(pilot, "verify-form")
        assert "wrong or has expired" in form(app, "verify-form").field("otp").error
        app.screen.query_one("#resend-verify").press()
        await settle(pilot)
        mail = text_of(app, "#verify-mail")
        assert "Latest outbox mail to kai@example.com" in mail
        app.screen.query_one(
            "#resend-verify"
        ).press()  # again at once: throttled, named under email
        await settle(pilot)
        assert "wait" in form(app, "verify-form").field("email").error
        await fill(pilot, "verify-form", otp=_code(mail))
        await submit(pilot, "verify-form")
    assert (await app.core.db.users.find_one({"email": "kai@example.com"}))[
        "isEmailVerified"
    ] is True
    assert await app.core.db.mail_outbox.count_documents({"to": "kai@example.com"}) == 1


# -- login, duplicate-login prevention, logout ---------------------------------------------------


async def test_login_writes_the_session_file_and_sets_the_header(app: ApsaraApp) -> None:
    await _verified_user(app.core)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_action(pilot, 15)
        await _tab(pilot, "login")
        await pilot.press(*"lin@example.com", "enter", *PASSWORD, "enter")
        await settle(pilot)
        assert "Logged in as lin@example.com" in text_of(app, "#login-result")
        assert app.current_user["email"] == "lin@example.com" and "lin@example.com" in app.sub_title
    path = session_path(app.core.settings.data_dir)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = read_session(app.core.settings.data_dir)
    assert stored.email == "lin@example.com"
    assert (await app.core.auth.verify_token(stored.token)).email == "lin@example.com"


async def test_wrong_password_and_unverified_login_store_no_session(app: ApsaraApp) -> None:
    await _verified_user(app.core)
    await app.core.users.create(
        actor=Principal.operator(), email="new@example.com", full_name="New", password=PASSWORD
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await open_action(pilot, 15)
        await _tab(pilot, "login")
        await fill(pilot, "login-form", email="lin@example.com", password="not-the-password")
        await submit(pilot, "login-form")
        assert "Invalid email or password" in notes(app)
        await fill(pilot, "login-form", email="new@example.com", password=PASSWORD)
        await submit(pilot, "login-form")
        assert "not verified" in text_of(app, "#login-result")
        assert (
            form(app, "verify-form").field("email").value == "new@example.com"
        )  # resend is next to it
        assert app.current_user is None
    assert read_session(app.core.settings.data_dir) is None
    assert (await app.core.db.users.find_one({"email": "lin@example.com"}))[
        "failedLoginAttempts"
    ] == 1


async def test_second_login_needs_switch_confirmation(app: ApsaraApp) -> None:
    await _verified_user(app.core)
    await _verified_user(app.core, "sam@example.com")
    first = await app.core.auth.login(email="lin@example.com", password=PASSWORD)
    _store(app, first)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_action(pilot, 15)
        assert app.current_user["email"] == "lin@example.com"  # restored at start
        await _tab(pilot, "login")
        await fill(pilot, "login-form", email="sam@example.com", password="wrong-password-1")
        await submit(pilot, "login-form")  # the password is checked before any switch prompt
        assert not isinstance(app.screen, ConfirmModal)
        assert read_session(app.core.settings.data_dir).email == "lin@example.com"
        await fill(pilot, "login-form", email="sam@example.com", password=PASSWORD)
        await submit(pilot, "login-form")
        assert isinstance(app.screen, ConfirmModal) and "lin@example.com" in text_of(
            app, "#confirm-title"
        )
        await pilot.press("n")
        await settle(pilot)
        assert read_session(app.core.settings.data_dir).email == "lin@example.com"
        assert "Still logged in as lin@example.com" in notes(app)
        await submit(pilot, "login-form")
        await pilot.press("y")
        await settle(pilot)
        assert app.current_user["email"] == "sam@example.com"
    assert read_session(app.core.settings.data_dir).email == "sam@example.com"
    with pytest.raises(AuthenticationError):  # the switched-away session is revoked
        await app.core.auth.verify_token(first.token)


async def test_logout_revokes_and_deletes_the_session_file(app: ApsaraApp) -> None:
    await _verified_user(app.core)
    session = await app.core.auth.login(email="lin@example.com", password=PASSWORD)
    _store(app, session)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "lin@example.com" in app.sub_title
        app.open_action(16)  # typing two digits is tested in test_shell.py
        await settle(pilot)
        assert isinstance(app.screen, LogoutScreen)
        assert "Logged in as lin@example.com" in text_of(app, "#logout-status")
        await pilot.press("l")
        await settle(pilot)
        assert "Logged out lin@example.com" in text_of(app, "#logout-status")
        assert app.current_user is None and "no user" in app.sub_title
    assert not session_path(app.core.settings.data_dir).exists()
    with pytest.raises(AuthenticationError):
        await app.core.auth.verify_token(session.token)


async def test_logout_with_nobody_logged_in_and_a_stale_file(app: ApsaraApp) -> None:
    await _verified_user(app.core)
    session = await app.core.auth.login(email="lin@example.com", password=PASSWORD)
    await app.core.auth.logout(token=session.token)
    _store(app, session)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.current_user is None and "no longer valid" in notes(app)
        await open_action(pilot, 16)
        assert "expired or was revoked" in text_of(app, "#logout-status")
        await pilot.press("l")
        await settle(pilot)
        assert not session_path(app.core.settings.data_dir).exists()
        await pilot.press("l")
        await settle(pilot)
        assert "Nobody was logged in" in text_of(app, "#logout-status")


# -- Google, guest ------------------------------------------------------------------------------


async def test_google_sign_in_with_a_pasted_id_token(google_core: Core, google: FakeGoogle) -> None:
    app = ApsaraApp(core=google_core)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_action(pilot, 15)
        await _tab(pilot, "google")
        await fill(pilot, "google-form", id_token=google.id_token(audience="someone-else"))
        await submit(pilot, "google-form")
        assert "another application" in form(app, "google-form").field(
            "id_token"
        ).error or "another application" in notes(app)
        assert app.current_user is None
        await fill(
            pilot,
            "google-form",
            id_token=google.id_token(sub="g-42", email="Gee@Gmail.com", name="Gee Whiz"),
        )
        await submit(pilot, "google-form")
        assert "Logged in as gee@gmail.com" in text_of(app, "#google-result")
        assert app.current_user["authProvider"] == "google"
    user = await google_core.db.users.find_one({"googleId": "g-42"})
    assert (user["email"], user["fullName"], user["isEmailVerified"]) == (
        "gee@gmail.com",
        "Gee Whiz",
        True,
    )
    assert read_session(google_core.settings.data_dir).user_id == user["_id"]


async def test_google_tab_says_when_not_configured(app: ApsaraApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await open_action(pilot, 15)
        await _tab(pilot, "google")
        assert "GOOGLE_CLIENT_ID" in str(app.screen.query_one("#google .hint").content)
        await fill(pilot, "google-form", id_token="x" * 40)
        await submit(pilot, "google-form")
        assert "GOOGLE_CLIENT_ID" in notes(app)
    assert await app.core.db.users.count_documents({}) == 0


async def test_guest_login_with_the_machine_key_shows_messages_left(app: ApsaraApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await open_action(pilot, 15)
        await _tab(pilot, "guest")
        key = form(app, "guest-form").field("client_key").value
        assert key == machine_client_key() and key.startswith("machine-")
        await submit(pilot, "guest-form")
        assert "messages left: 5" in text_of(app, "#guest-result")
        assert app.current_user["role"] == "guest"
        await fill(pilot, "guest-form", client_key="")
        await submit(pilot, "guest-form")
        assert form(app, "guest-form").field("client_key").error == "Enter a client key"
    guests = await app.core.db.users.find({"isGuest": True}).to_list()
    assert [g["guestClientKey"] for g in guests] == [machine_client_key()]
    assert read_session(app.core.settings.data_dir).user_id == guests[0]["_id"]


async def test_a_logged_in_guest_who_registers_is_upgraded_in_place(app: ApsaraApp) -> None:
    guest = await app.core.auth.guest(client_key="device-1", address="local")
    _store(app, guest)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_action(pilot, 15)
        assert app.current_user["role"] == "guest"
        await fill(
            pilot, "register-form", full_name="Ex Guest", email="ex@example.com", password=PASSWORD
        )
        app.screen.query_one("#accept_terms", Checkbox).value = True
        await submit(pilot, "register-form")
        assert "Guest upgraded" in "\n".join(n.title or "" for n in app._notifications)
        assert app.current_user is None and read_session(app.core.settings.data_dir) is None
    doc = await app.core.db.users.find_one({"_id": guest.user["_id"]})  # same account, same id
    assert (doc["email"], doc["isGuest"], doc["role"]) == ("ex@example.com", False, "user")


# -- forgot password ----------------------------------------------------------------------------


async def test_forgot_password_code_and_new_password_end_the_old_session(app: ApsaraApp) -> None:
    await _verified_user(app.core)
    old = await app.core.auth.login(email="lin@example.com", password=PASSWORD)
    _store(app, old)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_action(pilot, 15)
        await _tab(pilot, "forgot")
        await pilot.press(*"lin@example.com", "enter")
        await settle(pilot)
        mail = text_of(app, "#forgot-mail")
        assert "password reset code" in mail
        await pilot.press(*_code(mail), "enter")
        await settle(pilot)
        assert "Code accepted" in text_of(app, "#forgot-result")
        await fill(
            pilot, "reset-form", new_password="new-sunny-lighthouse", confirm="different-pass-1"
        )
        await submit(pilot, "reset-form")
        assert form(app, "reset-form").field("confirm").error == "The two passwords differ"
        await fill(pilot, "reset-form", confirm="new-sunny-lighthouse")
        await submit(pilot, "reset-form")
        assert "all its sessions ended" in text_of(app, "#forgot-result")
        assert app.current_user is None
    assert read_session(app.core.settings.data_dir) is None
    with pytest.raises(AuthenticationError):
        await app.core.auth.verify_token(old.token)
    assert (
        await app.core.auth.login(email="lin@example.com", password="new-sunny-lighthouse")
    ).token


async def test_forgot_password_unknown_email_answers_the_same(app: ApsaraApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await open_action(pilot, 15)
        await _tab(pilot, "forgot")
        await fill(pilot, "forgot-form", email="ghost@example.com")
        await submit(pilot, "forgot-form")
        assert "If an account uses this address" in notes(app)
        assert "No mail to ghost@example.com" in text_of(app, "#forgot-mail")
        await fill(pilot, "reset-code-form", otp="123456")
        await submit(pilot, "reset-code-form")
        assert form(app, "reset-code-form").field("otp").error
    assert await app.core.db.users.count_documents({}) == 0
