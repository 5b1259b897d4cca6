"""`apsara auth ...`: Sign-up and sign-in: register, verify, login, Google, guest, password reset, logout."""

from __future__ import annotations

import typer

app = typer.Typer(help="Sign-up and sign-in: register, verify, login, Google, guest, password reset, logout.", no_args_is_help=True)
