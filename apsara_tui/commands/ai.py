"""`apsara ai ...`: Talk to the model: send, edit, regenerate, embed."""

from __future__ import annotations

import typer

app = typer.Typer(help="Talk to the model: send, edit, regenerate, embed.", no_args_is_help=True)
