"""What every command shares: settings, a Core for one call, output and error handling."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from apsara_core.errors import ApsaraError
from apsara_core.jsonable import dumps
from apsara_tui.errors import describe

if TYPE_CHECKING:  # imported when a command runs: `--help` needs neither the driver nor settings
    from apsara_core.config import Settings
    from apsara_core.core import Core
    from apsara_core.models import Principal

T = TypeVar("T")
console = Console()
err_console = Console(stderr=True)


def fail(error: ApsaraError) -> NoReturn:
    """Print an error (`error: message`, its details and hints; see apsara_tui.errors) to
    stderr and exit 1."""
    head, *rest = describe(error).console_lines()
    first = Text(head)
    first.stylize("bold red", 0, len("error:"))
    err_console.print(first, highlight=False)
    for line in rest:
        err_console.print(
            Text(line, style="dim" if line.lstrip().startswith("→") else ""), highlight=False
        )
    raise typer.Exit(1)


def load_settings() -> Settings:
    """Settings from the environment, or a clean exit naming the bad variable."""
    from apsara_core.config import Settings

    try:
        return Settings.load()
    except ApsaraError as exc:
        fail(exc)


def run(job: Callable[[Core], Awaitable[T]]) -> T:
    """Open a Core, run `job` on it in a fresh event loop, close it; errors exit cleanly."""

    from apsara_core.core import open_core

    async def main() -> T:
        core = await open_core(load_settings())
        try:
            return await job(core)
        finally:
            await core.close()

    try:
        return asyncio.run(main())
    except ApsaraError as exc:
        fail(exc)


def run_as(
    job: Callable[[Core, Principal], Awaitable[T]],
    user: str | None = None,
    *,
    need_user: bool = False,
) -> T:
    """`run` with the actor resolved first (see `actor`): `job(core, actor)`."""

    async def with_actor(core: Core) -> T:
        return await job(core, await actor(core, user, need_user=need_user))

    return run(with_actor)


def emit(data: Any, *, json_out: bool, human: Callable[[Any], None] | None = None) -> None:
    """Print `data` as one JSON document (`--json`, or no human form), else with `human`."""
    if json_out or human is None:
        emit_json(data)
    else:
        human(data)


def emit_json(data: Any) -> None:
    """Print one JSON document on stdout (the core's one encoding, as over HTTP)."""
    sys.stdout.write(dumps(data) + "\n")


@dataclass
class Invocation:
    """Root options of this run of `apsara` (set by the Typer root callback)."""

    operator: bool = False


invocation = Invocation()


async def actor(core: Core, user: str | None = None, *, need_user: bool = False) -> Principal:
    """Who the command acts as: the core's one actor rule (see `SessionService`), with the
    root `--operator` flag.

    Raises:
        ApsaraError: an unusable session, an unknown `user`, or a `user` this actor may not
            act for.
    """
    return await core.sessions.resolve_actor(
        user=user, operator=invocation.operator, need_user=need_user
    )
