"""`apsara db info|status|start|stop|seed`: the database and the embedded server."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from apsara_core.db.embedded import EmbeddedServer
from apsara_core.errors import ApsaraError
from apsara_tui.commands.catalog import help_of
from apsara_tui.commands.options import JsonOpt
from apsara_tui.commands.runtime import (
    console,
    emit,
    emit_json,
    err_console,
    fail,
    load_settings,
    run_as,
)

app = typer.Typer(help=help_of("db"), no_args_is_help=True)


@app.command()
def info(json_out: JsonOpt = False) -> None:
    """Show the server, schema version, and each collection with its count and indexes."""
    data = run_as(lambda core, me: core.dbinfo.info(actor=me))
    if json_out:
        emit(data, json_out=True)
        return
    server = data["server"]
    console.print(
        f"[bold]Database[/] {server['database']} on {server['address']}"
        f"  ·  schema version {data['schemaVersion']}"
    )
    console.print(info_table(data))


def info_table(data: dict[str, Any]) -> Table:
    """The collections of `dbinfo.info()` as a Rich table."""
    table = Table("collection", "documents", "indexes", show_lines=False)
    for coll in data["collections"]:
        names = []
        for idx in coll["indexes"]:
            flags = "".join(
                [" unique" if idx["unique"] else "", " ttl" if "ttlSeconds" in idx else ""]
            )
            names.append(", ".join(f"{k}:{d}" for k, d in idx["keys"].items()) + flags)
        table.add_row(
            coll["name"],
            "not counted" if coll["documents"] is None else str(coll["documents"]),
            "\n".join(names),
        )
    return table


def _server() -> EmbeddedServer:
    settings = load_settings()
    if settings.mongodb_uri is not None:
        console.print("[yellow]MONGODB_URI is set: the embedded server is not used.[/]")
    return EmbeddedServer.from_settings(settings)


@app.command()
def status(json_out: JsonOpt = False) -> None:
    """Is the embedded server running, and where."""
    server = _server()
    state = server.status()
    data = {
        "running": state is not None,
        "dataDir": str(server.data_dir),
        **(
            {
                "host": state.host,
                "port": state.port,
                "pid": state.pid,
                "syncOnCommit": state.sync_on_commit,
            }
            if state
            else {}
        ),
    }
    if json_out:
        emit_json(data)
    elif state:
        synced = "on" if state.sync_on_commit else "off"
        console.print(
            f"running on {state.host}:{state.port} (pid {state.pid}), data in "
            f"{state.storage_path}, --sync-on-commit {synced}"
        )
    else:
        console.print(f"not running (data dir {server.data_dir})")


@app.command()
def start(json_out: JsonOpt = False) -> None:
    """Start the embedded server (or report the running one)."""
    try:
        state = _server().ensure_running()
    except ApsaraError as exc:
        fail(exc)
    if json_out:
        emit_json({"running": True, "host": state.host, "port": state.port, "pid": state.pid})
    else:
        console.print(f"running on {state.host}:{state.port} (pid {state.pid})")


@app.command()
def stop() -> None:
    """Stop the embedded server; Apsara starts it again when next needed."""
    console.print("stopped" if _server().stop() else "was not running")


@app.command()
def seed(
    users: Annotated[int, typer.Option("--users", help="How many users to create.")],
    conversations_per_user: Annotated[
        int, typer.Option("--conversations-per-user", help="Conversations of each user.")
    ] = 2,
    messages_per_conversation: Annotated[
        int, typer.Option("--messages-per-conversation", help="Messages in each conversation.")
    ] = 10,
    days: Annotated[int, typer.Option("--days", help="Spread the data over this many days.")] = 30,
    force: Annotated[
        bool, typer.Option("--force", help="Seed even though the database holds real users.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Fill the database with demo data (users, conversations, messages, usage) in bulk."""
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from apsara_core.services.seed import SeedSize

    size = SeedSize(users, conversations_per_user, messages_per_conversation, days)
    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=json_out,
    )
    started = time.perf_counter()
    with bar:
        task = bar.add_task("seeding documents", total=size.documents)
        data = run_as(
            lambda core, me: core.seed.seed(
                actor=me,
                size=size,
                force=force,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        )
    elapsed = time.perf_counter() - started
    written = sum(data["written"].values())
    data["seconds"] = round(elapsed, 2)
    data["documentsPerSecond"] = round(written / elapsed) if elapsed else written
    if json_out:
        emit_json(data)
        return
    parts = ", ".join(f"{n} {name}" for name, n in data["written"].items())
    console.print(f"seeded {parts} in {elapsed:.1f} s ({data['documentsPerSecond']} documents/s)")
