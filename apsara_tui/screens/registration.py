"""Action 15: the registration system — register and verify, log in, Google, guest, password reset.

Sign-ins (login, Google, guest) store the token in the session file (mode 0600) and make the
user the current user. When a valid session is already stored, the operator must confirm
"switch" first; the old token is revoked only once the new sign-in has succeeded.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Button, Footer, Header, Static, TabbedContent

from apsara_core.errors import ApsaraError
from apsara_core.services.auth_guests import LOCAL_ADDRESS
from apsara_tui.screens.base import CoreScreen
from apsara_tui.screens.registration_panes import (
    forgot_pane,
    google_pane,
    guest_pane,
    login_pane,
    register_pane,
)
from apsara_tui.screens.sessions import adopt_session, forget_user
from apsara_tui.widgets.confirm import ConfirmModal
from apsara_tui.widgets.forms import Form

if TYPE_CHECKING:
    from apsara_core.services.auth import Session


MAIL_CODE = re.compile(r"\b(\d{6})\b")
"""A one-time code in a mail's body (the codes are 6 digits)."""
MAIL_OF_TAB = {"register": "verify-mail", "forgot": "forgot-mail"}
"""Which mail line each tab shows."""


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if isinstance(value, datetime) else str(value)


class RegistrationScreen(CoreScreen):
    """Tabs for each way in; F2–F6 switch tabs, Enter submits the form you are in."""

    BINDINGS = [
        Binding("f2", "tab('register')", "Register", priority=True),
        Binding("f3", "tab('login')", "Login", priority=True),
        Binding("f4", "tab('google')", "Google", priority=True),
        Binding("f5", "tab('guest')", "Guest", priority=True),
        Binding("f6", "tab('forgot')", "Reset", priority=True),
        Binding("ctrl+y", "copy_code", "Copy code", priority=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._reset_token: str | None = None
        self._reset_email: str | None = None
        self._codes: dict[str, str] = {}
        """The code in the mail each mail line shows (by the line's id)."""

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(initial="register"):
            yield from register_pane()
            yield from login_pane()
            yield from google_pane(bool(self.core.settings.google_client_id))
            yield from guest_pane()
            yield from forgot_pane()
        yield Footer()

    def on_mount(self) -> None:
        self.action_tab("register")  # the first field takes the focus: nothing typed is lost

    def action_tab(self, tab: str) -> None:
        """Show tab `tab` and focus its first field."""
        self.query_one(TabbedContent).active = tab
        self.call_after_refresh(self._focus_first, tab)

    def _focus_first(self, tab: str) -> None:
        form = self.query_one(f"#{tab} Form", Form)
        next((f.input for f in form.fields if not f.value), form.fields[0].input).focus()

    def action_copy_code(self) -> None:
        """Copy the code of the shown mail (this tab's, else the latest shown) to the clipboard
        (OSC 52, as ctrl+y copies a reply in the chat)."""
        tab = self.query_one(TabbedContent).active
        code = self._codes.get(MAIL_OF_TAB.get(tab, "")) or next(
            reversed(self._codes.values()), None
        )
        if code is None:
            self.notify(
                "No mail with a code is shown: register (F2) or ask for a reset code (F6) first.",
                severity="warning",
                timeout=3,
            )
            return
        self.app.copy_to_clipboard(code)
        self.notify(f"Copied the code {code}: paste it into the Code field.", timeout=3)

    def form(self, form_id: str) -> Form:
        """The form with this id."""
        return self.query_one(f"#{form_id}", Form)

    def say(self, target: str, text: str) -> None:
        """Show `text` in the result/mail line `target`."""
        line = self.query_one(f"#{target}", Static)
        line.update(text)
        line.set_class(bool(text), "-shown")
        if text:  # shown where it is seen, even at 80×24
            self.call_after_refresh(line.scroll_visible, top=True, animate=False)

    # -- dispatch ---------------------------------------------------------------------------
    def on_form_submitted(self, event: Form.Submitted) -> None:
        event.stop()
        handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "register-form": self._register,
            "verify-form": self._verify,
            "login-form": self._login,
            "google-form": self._google,
            "guest-form": self._guest,
            "forgot-form": self._forgot,
            "reset-code-form": self._check_reset_code,
            "reset-form": self._reset,
        }
        handlers[str(event.form.id)](event.values)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "resend-verify":
            self._resend(self.form("verify-form"), "verify_email", "verify-mail")
        elif event.button.id == "resend-reset":
            self._resend(self.form("forgot-form"), "reset_password", "forgot-mail")

    # -- register and verify ----------------------------------------------------------------
    @work(exclusive=True, group="auth")
    async def _register(self, values: dict[str, Any]) -> None:
        form = self.form("register-form")
        if not values["accept_terms"]:
            self.notify("Accept the terms of use to register.", title="Terms", severity="error")
            return
        done = await self.call(
            form.guard(
                self.core.sessions.register(
                    full_name=values["full_name"],
                    email=values["email"],
                    password=values["password"],
                    accept_terms=True,
                )
            )
        )
        if done is None:
            return
        self.notify(
            done.get("message", "Registered: check the mail for the code."), title="Registered"
        )
        if done.get("guestUpgraded"):  # the guest token ended; the account keeps its data
            self.apsara.current_user = None
            self.notify(
                "The guest account became this account and keeps its conversations: "
                "verify the email, then log in.",
                title="Guest upgraded",
            )
        verify = self.form("verify-form")
        verify.field("email").value = values["email"].strip()
        form.clear()
        verify.field("otp").input.focus(scroll_visible=False)
        await self._show_mail(values["email"], "verify-mail")

    @work(exclusive=True, group="auth")
    async def _verify(self, values: dict[str, Any]) -> None:
        form = self.form("verify-form")
        done = await self.call(
            form.guard(
                self.core.auth.verify_email(email=values["email"], otp=values["otp"].strip())
            )
        )
        if done is None:
            return
        self.notify(done.get("message", "Email verified."), title="Verified")
        self.say("verify-mail", f"{values['email']} is verified: log in on the Login tab (F3).")
        form.field("otp").value = ""
        self.form("login-form").field("email").value = values["email"].strip()
        self.action_tab("login")

    @work(exclusive=True, group="auth")
    async def _resend(self, form: Form, purpose: str, mail_target: str) -> None:
        email = form.field("email")
        if not email.check(submitting=True):
            email.input.focus()
            return
        done = await self.call(
            form.guard(self.core.auth.resend_otp(email=email.value, purpose=purpose))
        )
        if done is not None:
            self.notify(
                done.get("message", "If the address has an account, a new code is on its way."),
                title="Code sent",
            )
            await self._show_mail(email.value, mail_target)

    async def _show_mail(self, email: str, target: str) -> None:
        """Say where the code went: the latest outbox mail when no SMTP server is set."""
        email = email.strip().lower()
        if self.core.mail.backend == "smtp":
            self.say(target, f"The code was mailed to {email} through SMTP: read it in that inbox.")
            return
        mails = await self.call_as(lambda me: self.core.mail.outbox(actor=me, to=email, limit=1))
        if not mails:
            self.say(target, f"No mail to {email} in the outbox.")
            return
        mail = mails[0]
        body = "\n".join(line for line in str(mail.get("body", "")).splitlines() if line.strip())
        if found := MAIL_CODE.search(body):
            self._codes.pop(target, None)  # the latest shown comes last
            self._codes[target] = found.group(1)
            body += "\n(ctrl+y copies the code)"
        self.say(
            target,
            f"Latest outbox mail to {email} (EMAIL_SMTP_URL is not set) · "
            f"{_when(mail.get('createdAt'))}\n{mail.get('subject', '')}\n{body}",
        )
        self.call_after_refresh(
            self.query_one(f"#{target}").scroll_visible, top=True, animate=False
        )

    # -- sign-ins ---------------------------------------------------------------------------
    async def _sign_in(self, form: Form, start: Callable[[], Awaitable[Session]]) -> Session | None:
        """Sign in and store the session. With another session stored, the credentials are
        checked first; only then does the operator confirm "switch" (declined: the new
        session is revoked at once and the stored one stays)."""
        found = await self.core.sessions.replaced_by_sign_in()
        if found is None:
            session = await self.call(form.guard(self.core.sessions.sign_in(start, switch=True)))
        else:
            session = await self._switch_to(form, start, found.email or found.user_id)
        if session is not None:
            adopt_session(self.apsara, session)
        return session

    async def _switch_to(
        self, form: Form, start: Callable[[], Awaitable[Session]], who: str
    ) -> Session | None:
        fresh = await self.call(form.guard(start()))
        if fresh is None:  # wrong password etc.: said under the form; nothing asked
            return None
        switch = await self.app.push_screen_wait(
            ConfirmModal(
                f"{who} is already logged in",
                f"The sign-in as {fresh.user.get('email')} is checked. A valid session for "
                f"{who} is stored on this machine. Switch? Their session token will be revoked "
                "and the new sign-in stored instead.",
                confirm="Switch",
                danger=False,
            )
        )
        if not switch:
            await self.call(self.core.auth.logout(token=fresh.token))
            self.notify(f"Still logged in as {who}; nothing changed.", title="Login")
            return None

        async def checked() -> Session:
            return fresh

        return await self.call(self.core.sessions.sign_in(checked, switch=True))

    def _signed_in(self, target: str, session: Session) -> None:
        user = session.user
        self.say(
            target,
            f"Logged in as {user.get('email')} ({user.get('role')}, plan "
            f"{user.get('subscriptionPlan')}) until {_when(session.expires_at)}.",
        )
        self.notify(f"Logged in as {user.get('email')}", title="Logged in")

    @work(exclusive=True, group="auth")
    async def _login(self, values: dict[str, Any]) -> None:
        form = self.form("login-form")

        async def login() -> Session:
            try:
                return await self.core.auth.login(
                    email=values["email"], password=values["password"]
                )
            except ApsaraError as exc:
                if exc.code == "EMAIL_NOT_VERIFIED":
                    self._offer_verify(values["email"].strip())
                raise

        session = await self._sign_in(form, login)
        if session is not None:
            form.field("password").value = ""
            self._signed_in("login-result", session)

    def _offer_verify(self, email: str) -> None:
        """Login refused until verified: get the verify form ready, with resend next to it."""
        self.form("verify-form").field("email").value = email
        self.say(
            "login-result",
            f"{email} is not verified yet: type the code on the Register tab (F2), "
            "or press Resend code there for a new one.",
        )

    @work(exclusive=True, group="auth")
    async def _google(self, values: dict[str, Any]) -> None:
        form = self.form("google-form")
        token = values["id_token"].strip()
        session = await self._sign_in(form, lambda: self.core.auth.google(id_token=token))
        if session is not None:
            form.field("id_token").value = ""
            self._signed_in("google-result", session)

    @work(exclusive=True, group="auth")
    async def _guest(self, values: dict[str, Any]) -> None:
        form = self.form("guest-form")
        key = values["client_key"].strip()
        session = await self._sign_in(
            form, lambda: self.core.auth.guest(client_key=key, address=LOCAL_ADDRESS)
        )
        if session is not None:
            left = session.user.get("messagesLeft")
            self.say(
                "guest-result",
                f"Guest session for client key {key} until {_when(session.expires_at)}"
                f" · messages left: {'—' if left is None else left}",
            )
            self.notify(f"Guest session started · messages left: {left}", title="Guest")

    # -- password reset ---------------------------------------------------------------------
    @work(exclusive=True, group="auth")
    async def _forgot(self, values: dict[str, Any]) -> None:
        form = self.form("forgot-form")
        done = await self.call(form.guard(self.core.auth.forgot_password(email=values["email"])))
        if done is None:
            return
        self._reset_email, self._reset_token = values["email"].strip().lower(), None
        self.notify(
            done.get("message", "If the address has an account, a code is on its way."),
            title="Code sent",
        )
        self.form("reset-code-form").field("otp").input.focus(scroll_visible=False)
        await self._show_mail(values["email"], "forgot-mail")

    @work(exclusive=True, group="auth")
    async def _check_reset_code(self, values: dict[str, Any]) -> None:
        form = self.form("reset-code-form")
        email = self._reset_email or self.form("forgot-form").field("email").value.strip().lower()
        if not email:
            self.notify("Enter the email and send a code first.", severity="warning")
            return
        done = await self.call(
            form.guard(self.core.auth.verify_reset_otp(email=email, otp=values["otp"].strip()))
        )
        if done is None:
            return
        self._reset_email, self._reset_token = email, done["resetToken"]
        form.field("otp").value = ""
        self.say("forgot-result", f"Code accepted for {email}: choose the new password.")
        self.form("reset-form").field("new_password").input.focus()

    @work(exclusive=True, group="auth")
    async def _reset(self, values: dict[str, Any]) -> None:
        form = self.form("reset-form")
        if values["new_password"] != values["confirm"]:
            form.show_error("confirm", "The two passwords differ")
            return
        if self._reset_token is None:
            self.notify("Check the code from the mail first.", title="Reset", severity="warning")
            return
        done = await self.call(
            form.guard(
                self.core.auth.reset_password(
                    reset_token=self._reset_token, new_password=values["new_password"]
                )
            )
        )
        if done is None:
            return
        email, self._reset_token = self._reset_email, None
        form.clear()
        self.say("forgot-result", f"The password of {email} is changed and all its sessions ended.")
        self.notify(done.get("message", "Password changed."), title="Password reset")
        current = self.apsara.current_user
        if current and current.get("email") == email:
            forget_user(self.apsara, str(current["_id"]))
