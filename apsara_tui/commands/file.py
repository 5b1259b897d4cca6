"""`apsara file ...`: Stored files: upload, list, show, delete, download, types.

Files belong to a user: `--user EMAIL_OR_ID`, or the logged-in user (the core's actor rule,
`apsara_core.services.sessions`). Uploads show a progress bar when stdout is a terminal, and
none with `--json` or when piped. `--analyze` asks the model about the uploaded file in a
conversation (a new one, or `--conversation`), streaming the answer like `apsara ai send`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn
from rich.table import Table

from apsara_core.storage.types import human_size
from apsara_tui.commands.catalog import help_of
from apsara_tui.commands.options import JsonOpt, UserOpt, YesOpt
from apsara_tui.commands.runtime import console, emit, run_as

app = typer.Typer(help=help_of("file"), no_args_is_help=True)
FileArg = Annotated[str, typer.Argument(metavar="FILE_ID", help="The file's id.")]
ANALYSES = ("describe", "extract", "ask")


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def files_table(files: list[dict[str, Any]]) -> Table:
    """One row per file: id, name, type, size, method, when."""
    table = Table("id", "name", "type", "size", "method", "uploaded")
    for f in files:
        table.add_row(
            f["fileId"],
            f["displayName"],
            f["mimeType"],
            human_size(f["size"]),
            f["method"],
            _when(f.get("createdAt")),
        )
    return table


def show_file(f: dict[str, Any]) -> None:
    """Print one record as label: value lines."""
    remote = f.get("geminiFile") or {}
    rows = [
        ("id", f["fileId"]),
        ("name", f["displayName"]),
        ("original name", f["originalName"]),
        ("owner", f["userId"]),
        ("type", f["mimeType"]),
        ("size", human_size(f["size"])),
        ("sha256", f["sha256"]),
        ("method", f["method"]),
        ("reason", f.get("reason") or "-"),
        (
            "File API",
            f"{remote.get('name')} ({remote.get('state')}, until {_when(remote.get('expiresAt'))})"
            if remote
            else "-",
        ),
        ("uploaded", _when(f.get("createdAt"))),
    ]
    for label, value in rows:
        console.print(f"[bold]{label:>14}[/] {value}", highlight=False, markup=False)


def _progress_bar(paths: list[Path], json_out: bool) -> Progress | None:
    """Rich's progress bar on a terminal; None for --json or a pipe."""
    if json_out or not sys.stdout.isatty():
        return None
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console,
        transient=True,
    )


@app.command()
def upload(
    paths: Annotated[list[Path], typer.Argument(metavar="PATH...", help="Files to upload.")],
    method: Annotated[str, typer.Option("--method", help="auto|local|s3|google-file-api")] = "auto",
    prefer: Annotated[
        str | None, typer.Option("--prefer", help="speed|processing|storage (for auto)")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Display name (numbered for several files).")
    ] = None,
    analyze: Annotated[str | None, typer.Option("--analyze", help="describe|extract|ask")] = None,
    question: Annotated[
        str | None, typer.Option("--question", help="The question of --analyze ask.")
    ] = None,
    conversation: Annotated[
        str | None, typer.Option("--conversation", "-c", help="Analyze in this conversation.")
    ] = None,
    user: UserOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Upload files (--json: an array of the stored records; with --analyze each carries its
    `analysis` response)."""
    if analyze is not None and analyze not in ANALYSES:
        raise typer.BadParameter(f"must be one of {', '.join(ANALYSES)}", param_hint="--analyze")
    bar = _progress_bar(paths, json_out)
    total = sum(p.stat().st_size for p in paths if p.is_file())

    async def job(core: Any, me: Any) -> list[dict[str, Any]]:
        task = bar.add_task("uploading", total=total) if bar else None
        step = (lambda n: bar.advance(task, n)) if bar and task is not None else None
        if bar:
            bar.start()
        try:
            return await core.files.upload_paths(
                actor=me,
                paths=paths,
                method=method,
                preference=prefer,
                display_name=name,
                progress=step,
            )
        finally:
            if bar:
                bar.stop()

    stored = run_as(job, user, need_user=True)
    answers = None
    if analyze is not None:
        from apsara_tui.commands.file_analyze import analyze_files

        if not json_out:
            _print_stored(stored)
        answers = analyze_files(stored, analyze, question, conversation, user, json_out)
    if json_out:  # one document: the records (each with its analysis when asked)
        emit(
            [{**r, "analysis": a} for r, a in zip(stored, answers, strict=True)]
            if answers is not None
            else stored,
            json_out=True,
        )
    elif analyze is None:
        _print_stored(stored)


def _print_stored(stored: list[dict[str, Any]]) -> None:
    for r in stored:
        console.print(
            f"stored {r['fileId']} {r['displayName']!r} ({human_size(r['size'])}, "
            f"{r['mimeType']}) — {r['reason']}",
            highlight=False,
            markup=False,
        )


@app.command("list")
def list_files(
    user: UserOpt = None,
    all_users: Annotated[bool, typer.Option("--all", help="Every user's files (admins).")] = False,
    mime_type: Annotated[
        str | None, typer.Option("--type", help="MIME type, or a prefix like image/.")
    ] = None,
    method: Annotated[
        str | None, typer.Option("--method", help="Only this storage method.")
    ] = None,
    search: Annotated[
        str | None, typer.Option("--search", help="Text in the display name.")
    ] = None,
    page: Annotated[int, typer.Option("--page", help="Page number (from 1).")] = 1,
    page_size: Annotated[int, typer.Option("--page-size", help="1-100.")] = 20,
    json_out: JsonOpt = False,
) -> None:
    """Your files, newest first (an admin: --user's, or --all) (--json: an array of records)."""

    async def job(core: Any, me: Any) -> dict[str, Any]:
        owner = None if all_users else me.user_id
        return await core.files.list(
            actor=me,
            user_id=owner,
            mime_type=mime_type,
            method=method,
            search=search,
            page=page,
            page_size=page_size,
        )

    result = run_as(job, user, need_user=not all_users)
    emit(
        result["files"],
        json_out=json_out,
        human=lambda files: (
            console.print(files_table(files)),
            console.print(f"[dim]page {result['page']}, {len(files)} of {result['total']}[/]"),
        ),
    )


@app.command()
def show(file_id: FileArg, user: UserOpt = None, json_out: JsonOpt = False) -> None:
    """One file's record."""
    emit(
        run_as(lambda core, me: core.files.show(actor=me, file_id=file_id), user),
        json_out=json_out,
        human=show_file,
    )


@app.command()
def delete(
    file_id: FileArg, user: UserOpt = None, yes: YesOpt = False, json_out: JsonOpt = False
) -> None:
    """Delete a file: its stored object, its Gemini File API copy and its record."""
    if not yes and not json_out:
        typer.confirm(f"Delete file {file_id} and its stored copies?", abort=True)
    result = run_as(lambda core, me: core.files.delete(actor=me, file_id=file_id), user)
    emit(
        result,
        json_out=json_out,
        human=lambda r: [
            console.print(
                f"deleted {r['fileId']} {r['displayName']!r}", highlight=False, markup=False
            ),
            *[console.print(f"  note: {n}", style="dim", highlight=False) for n in r["notes"]],
        ],
    )


@app.command()
def download(
    file_id: FileArg,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Where to save (default: its display name here)."),
    ] = None,
    user: UserOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Save a stored file (local or S3) to disk; never overwrites."""

    async def job(core: Any, me: Any) -> dict[str, Any]:
        record = await core.files.show(actor=me, file_id=file_id)
        target = output or Path(record["displayName"])
        return await core.files.download(actor=me, file_id=file_id, destination=target)

    result = run_as(job, user)
    emit(
        result,
        json_out=json_out,
        human=lambda r: console.print(
            f"saved {r['fileId']} to {r['savedTo']} ({human_size(r['size'])})", highlight=False
        ),
    )


@app.command()
def types(json_out: JsonOpt = False) -> None:
    """The supported file types: size limits and allowed storage methods."""
    from apsara_core.services.files import FileService

    rows = FileService.types()

    def human(rows: list[dict[str, Any]]) -> None:
        table = Table("type", "kind", "extensions", "max size", "methods")
        for r in rows:
            table.add_row(
                r["mimeType"],
                r["kind"],
                " ".join(r["extensions"]),
                r["maxSize"],
                ", ".join(r["methods"]),
            )
        console.print(table)

    emit(rows, json_out=json_out, human=human)
