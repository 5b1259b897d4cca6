"""`apsara key create|list|revoke`: personal API keys for scripts and client apps."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from apsara_tui.commands.catalog import help_of
from apsara_tui.commands.options import JsonOpt, UserOpt
from apsara_tui.commands.runtime import console, emit, run_as

app = typer.Typer(help=help_of("key"), no_args_is_help=True)


@app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="What the key is for.")],
    user: UserOpt = None,
    expires_in: Annotated[
        str | None, typer.Option("--expires-in", help="Lifetime: 30d, 12h, 3600 (default: none).")
    ] = None,
    read_only: Annotated[bool, typer.Option("--read-only", help="Reads only.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Create a key; it is shown once (send it as Authorization: Bearer <key>)."""
    created = run_as(
        lambda core, me: core.api_keys.create(
            actor=me, name=name, expires_in=expires_in, read_only=read_only
        ),
        user,
        need_user=True,
    )
    if json_out:
        emit({"key": created["key"], "id": created["id"]}, json_out=True)
        return
    console.print(f"API key {created['id']} ({created['name']}); shown once, keep it now:")
    console.print(created["key"], markup=False, highlight=False)


@app.command("list")
def list_keys(user: UserOpt = None, json_out: JsonOpt = False) -> None:
    """The user's keys: id, name, created, last used, expiry, scope (never the key)."""
    keys = run_as(lambda core, me: core.api_keys.list(actor=me, user_id=me.user_id), user)
    emit(keys, json_out=json_out, human=lambda rows: console.print(_table(rows)))


@app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (key_...).")],
    user: UserOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Revoke a key at once."""
    result = run_as(lambda core, me: core.api_keys.revoke(actor=me, key_id=key_id), user)
    emit(result, json_out=json_out, human=lambda r: console.print(f"Revoked {r['id']}"))


def _table(rows: list[dict[str, Any]]) -> Table:
    table = Table("id", "name", "created", "last used", "expires", "scope")
    for row in rows:
        table.add_row(
            row["id"],
            row["name"],
            f"{row['createdAt']:%Y-%m-%d %H:%M}",
            f"{row['lastUsedAt']:%Y-%m-%d %H:%M}" if row.get("lastUsedAt") else "-",
            f"{row['expiresAt']:%Y-%m-%d %H:%M}" if row.get("expiresAt") else "never",
            "read-only" if row.get("readOnly") else "full",
        )
    return table
