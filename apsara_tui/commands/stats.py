"""`apsara stats ...`: Statistics: the whole database, or one user."""

from __future__ import annotations

import typer

app = typer.Typer(help="Statistics: the whole database, or one user.", no_args_is_help=True)
