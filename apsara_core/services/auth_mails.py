"""The texts of account mails and of the answers that must not reveal accounts."""

from __future__ import annotations

REGISTERED = ("Registration received. If the address can be used, a 6-digit verification "
              "code has been sent to it; enter it to activate the account.")
SENT_IF_ACCOUNT = "If an account uses this address, a new code has been sent to it."


def verification(name: str, code: str) -> dict[str, str]:
    """The mail with an email-verification code."""
    return {"subject": f"Your Apsara verification code: {code}",
            "body": f"Hello {name},\n\nYour Apsara verification code is {code}.\n"
                    "It works once, for 10 minutes.\n\n"
                    "If you did not sign up, ignore this mail.\n"}


def reset(name: str, code: str) -> dict[str, str]:
    """The mail with a password-reset code."""
    return {"subject": f"Your Apsara password reset code: {code}",
            "body": f"Hello {name},\n\nYour Apsara password reset code is {code}.\n"
                    "It works once, for 10 minutes.\n\n"
                    "If you did not ask to reset your password, ignore this mail: "
                    "your password has not changed.\n"}


def already_registered() -> dict[str, str]:
    """The mail sent when someone registers with an address that has an account."""
    return {"subject": "You already have an Apsara account",
            "body": "Hello,\n\nSomeone (hopefully you) tried to register a new Apsara account "
                    "with this address, but you already have an account.\n\n"
                    "Sign in, or if you forgot your password use forgot-password "
                    "(apsara auth forgot-password --email YOUR_EMAIL).\n"}
