"""`apsara conv ...`: Conversations: create, list, show, messages, rename, delete, export."""

from __future__ import annotations

import typer

app = typer.Typer(help="Conversations: create, list, show, messages, rename, delete, export.", no_args_is_help=True)
