"""The `apsara` command. Without a sub-command it opens the full-screen app; the Typer groups
do the same work for scripts. Typer and the groups load only when a sub-command is given,
so the app starts fast.
"""

import sys
from collections.abc import Iterable
from typing import Any

from apsara_tui.commands.catalog import GROUPS


def build_app(load: Iterable[str] | None = None) -> Any:
    """The Typer root with every group added.

    Args:
        load: the groups whose modules are imported (None: all of them); the others are
            empty stand-ins carrying only their help, enough for `apsara --help`.
    """
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
    def _root(
        ctx: typer.Context,
        operator: bool = typer.Option(
            False,
            "--operator",
            help="Act as the operator (admin) even while a session is logged in.",
        ),
    ) -> None:
        from apsara_tui.commands.runtime import invocation

        invocation.operator = operator
        if ctx.invoked_subcommand is None:
            from apsara_tui.launch import launch_tui

            launch_tui()

    wanted = set(GROUPS) if load is None else set(load)
    for name, (module, help_text) in GROUPS.items():
        group = (
            importlib.import_module(module).app if name in wanted else typer.Typer(help=help_text)
        )
        root.add_typer(group, name=name)
    from apsara_tui.commands.serve import serve

    root.command()(serve)
    from apsara_tui.commands.worker import worker

    root.command()(worker)
    return root


def main() -> None:
    """Console-script entry point."""
    if len(sys.argv) == 1:
        from apsara_tui.launch import launch_tui

        launch_tui()
        return
    build_app(load=[arg for arg in sys.argv[1:] if arg in GROUPS][:1])()


def __getattr__(name: str) -> Any:
    if name == "app":
        return build_app()
    raise AttributeError(name)
