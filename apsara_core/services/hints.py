"""Suggestions the services attach to errors, each in its CLI and its HTTP form (see
`errors.Hint`): the rule of what to suggest lives here once, every front end renders its own."""

from __future__ import annotations

from apsara_core.errors import Hint

LIST_CONVERSATIONS = Hint(
    "List conversations with `apsara conv list`", "List conversations: GET /api/conversations"
)
LIST_USERS = Hint("List users with `apsara user list`", None)
LIST_FILES = Hint("List your files with `apsara file list`", "List your files: GET /api/files")
DELETE_FILES = Hint(
    "Delete files you no longer need (`apsara file delete`)",
    "Delete files you no longer need: DELETE /api/files/{fileId}",
)
SIGN_IN_AGAIN = Hint(
    "Sign in again with `apsara auth login`", "Sign in again: POST /api/users/login"
)
ADMIN_UNLOCK = Hint(
    "An admin can lift the lock: apsara user unlock EMAIL", "An admin can lift the lock"
)


def verify_email_hint(email: str) -> Hint:
    """Enter the mailed code."""
    return Hint(
        f"apsara auth verify-email --email {email} --otp CODE",
        "Verify the email: POST /api/users/verify-email with email and otp",
    )


def resend_otp_hint(email: str) -> Hint:
    """Ask for a new code."""
    return Hint(
        f"Get a new code: apsara auth resend-otp --email {email}",
        "Get a new code: POST /api/users/resend-otp",
    )
