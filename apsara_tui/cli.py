"""The `apsara` command: no sub-command opens the full-screen app; groups do the same work for scripts."""

from __future__ import annotations

import typer

from apsara_tui.commands import db

app = typer.Typer(
    name="apsara",
    help="Apsara: AI conversations, users and plans, run from the terminal.",
    invoke_without_command=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db.app, name="db")


@app.callback()
def root(ctx: typer.Context) -> None:
    """Without a sub-command, open the full-screen app."""
    if ctx.invoked_subcommand is None:
        from apsara_tui.launch import launch_tui  # Textual only when needed

        launch_tui()


def main() -> None:
    """Console-script entry point."""
    app()
