"""`apsara mail ...`: Mail sent by Apsara (the outbox when no SMTP server is set)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Mail sent by Apsara (the outbox when no SMTP server is set).", no_args_is_help=True)
