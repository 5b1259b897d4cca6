"""What every command shares: settings, a Core for one call, output and error handling."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console

from apsara_core.config import Settings
from apsara_core.core import Core, open_core
from apsara_core.errors import ApsaraError, NotFoundError, ValidationError
from apsara_core.models import Principal
from apsara_core.repos.users import find_by_email_or_id
from apsara_core.session_file import read_session

T = TypeVar("T")
console = Console()
err_console = Console(stderr=True)


def fail(error: ApsaraError) -> NoReturn:
    """Print an error (one line, plus suggestions) to stderr and exit 1."""
    err_console.print(f"[bold red]error:[/] {error.message}", highlight=False)
    if error.details and error.details != error.message:
        err_console.print(f"  {error.details}", highlight=False)
    for hint in error.suggestions:
        err_console.print(f"  [dim]→ {hint}[/]", highlight=False)
    raise typer.Exit(1)


def load_settings() -> Settings:
    """Settings from the environment, or a clean exit naming the bad variable."""
    try:
        return Settings.load()
    except ApsaraError as exc:
        fail(exc)


def run(job: Callable[[Core], Awaitable[T]]) -> T:
    """Open a Core, run `job` on it in a fresh event loop, close it; errors exit cleanly."""

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


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return str(value)


def emit_json(data: Any) -> None:
    """Print one JSON document on stdout."""
    sys.stdout.write(json.dumps(data, default=_default, indent=2, ensure_ascii=False) + "\n")


async def acting_user(core: Core, user: str | None) -> Principal:
    """The user a command acts on: `--user EMAIL_OR_ID`, else the logged-in session's user.

    Raises:
        NotFoundError: no such user.
        ValidationError: no --user and nobody logged in.
        AuthenticationError: the stored session is expired or revoked.
    """
    if user:
        doc = await find_by_email_or_id(core.db, user)
        if doc is None:
            raise NotFoundError(f"No user {user!r}", field="--user",
                                suggestions=["List users with `apsara user list`"])
        return Principal.of_user(doc)
    session = read_session(core.settings.data_dir)
    if session is None:
        raise ValidationError("No user chosen: pass --user EMAIL_OR_ID or log in with `apsara auth login`",
                              field="--user")
    return await core.auth.verify_token(session.token)
