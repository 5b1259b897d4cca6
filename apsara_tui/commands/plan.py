"""`apsara plan ...`: Subscription plans and their model limits."""

from __future__ import annotations

import typer

app = typer.Typer(help="Subscription plans and their model limits.", no_args_is_help=True)
