"""`apsara user ...`: Users: create, list, show, delete, plan, role, unlock."""

from __future__ import annotations

import typer

app = typer.Typer(help="Users: create, list, show, delete, plan, role, unlock.", no_args_is_help=True)
