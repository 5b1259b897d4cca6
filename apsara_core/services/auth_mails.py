"""The texts of account mails and of the answers that must not reveal accounts."""

from __future__ import annotations

from datetime import datetime

REGISTERED = (
    "Registration received. If the address can be used, a 6-digit verification "
    "code has been sent to it; enter it to activate the account."
)
SENT_IF_ACCOUNT = "If an account uses this address, a new code has been sent to it."


def verification(name: str, code: str) -> dict[str, str]:
    """The mail with an email-verification code."""
    return {
        "subject": f"Your Apsara verification code: {code}",
        "body": f"Hello {name},\n\nYour Apsara verification code is {code}.\n"
        "It works once, for 10 minutes.\n\n"
        "If you did not sign up, ignore this mail.\n",
    }


def reset(name: str, code: str) -> dict[str, str]:
    """The mail with a password-reset code."""
    return {
        "subject": f"Your Apsara password reset code: {code}",
        "body": f"Hello {name},\n\nYour Apsara password reset code is {code}.\n"
        "It works once, for 10 minutes.\n\n"
        "If you did not ask to reset your password, ignore this mail: "
        "your password has not changed.\n",
    }


def already_registered() -> dict[str, str]:
    """The mail sent when someone registers with an address that has an account."""
    return {
        "subject": "You already have an Apsara account",
        "body": "Hello,\n\nSomeone (hopefully you) tried to register a new Apsara account "
        "with this address, but you already have an account.\n\n"
        "Sign in, or if you forgot your password use forgot-password "
        "(apsara auth forgot-password --email YOUR_EMAIL).\n",
    }


def locked(name: str, email: str, until: datetime) -> dict[str, str]:
    """The mail telling the owner their account locked after too many failed sign-ins."""
    return {
        "subject": "Your Apsara account is locked for 15 minutes",
        "body": f"Hello {name},\n\nAfter 5 failed sign-ins in a row, your Apsara account "
        f"is locked until {until:%Y-%m-%d %H:%M} UTC. No one can sign in to it "
        "until then, with any password.\n\n"
        "To unlock it: wait until then and sign in again, or ask an administrator "
        f"to run: apsara user unlock {email}\n\n"
        "If these attempts were not yours, someone may be guessing your password: "
        "once the lock ends, choose a new one with forgot-password "
        f"(apsara auth forgot-password --email {email}).\n",
    }
