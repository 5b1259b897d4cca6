"""Options that several command groups share, declared once (Typer's `Annotated` aliases)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import typer


def one_of(values: Sequence[str]) -> str:
    """`("user", "admin", "guest")` -> "user, admin or guest" (for help texts)."""
    *rest, last = values
    return f"{', '.join(rest)} or {last}" if rest else last


JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
UserOpt = Annotated[
    str | None,
    typer.Option("--user", help="Email or id of the user acted on (default: the logged-in user)."),
]
UserArg = Annotated[str, typer.Argument(metavar="EMAIL_OR_ID", help="The user's email or id.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
ConvOpt = Annotated[str, typer.Option("--conversation", "-c", help="The conversation's id.")]
ConvArg = Annotated[str, typer.Argument(metavar="CONVERSATION_ID", help="The conversation's id.")]
EmailOpt = Annotated[str, typer.Option("--email", help="The account's email.")]
SwitchOpt = Annotated[bool, typer.Option("--switch", help="Replace the current session.")]
