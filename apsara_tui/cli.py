"""The `apsara` command. Without a sub-command it opens the full-screen app; the Typer groups
do the same work for scripts. Typer and the groups load only when a sub-command is given,
so the app starts fast.
"""


import sys
from typing import Any

GROUPS: dict[str, str] = {
    "db": "apsara_tui.commands.db",
    "user": "apsara_tui.commands.user",
    "auth": "apsara_tui.commands.auth",
    "mail": "apsara_tui.commands.mail",
    "conv": "apsara_tui.commands.conv",
    "ai": "apsara_tui.commands.ai",
    "file": "apsara_tui.commands.file",
    "stats": "apsara_tui.commands.stats",
    "plan": "apsara_tui.commands.plan",
}


def build_app() -> Any:
    """The Typer root with every group added."""
    import importlib

    import typer

    root = typer.Typer(
        name="apsara",
        help="Apsara: AI conversations, users and plans, run from the terminal. "
             "Without a command: the full-screen app.",
        invoke_without_command=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )

    @root.callback()
    def _root(ctx: typer.Context, operator: bool = typer.Option(
            False, "--operator",
            help="Act as the operator (admin) even while a session is logged in.")) -> None:
        from apsara_tui.commands.runtime import invocation

        invocation.operator = operator
        if ctx.invoked_subcommand is None:
            from apsara_tui.launch import launch_tui

            launch_tui()

    for name, module in GROUPS.items():
        root.add_typer(importlib.import_module(module).app, name=name)
    from apsara_tui.commands.serve import serve

    root.command()(serve)
    return root


def main() -> None:
    """Console-script entry point."""
    if len(sys.argv) == 1:
        from apsara_tui.launch import launch_tui

        launch_tui()
        return
    build_app()()


def __getattr__(name: str) -> Any:
    if name == "app":
        return build_app()
    raise AttributeError(name)
