"""`apsara plan list|set|files`: subscription plans, their model limits and file limits."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from apsara_core.vocabulary import PRO_MODEL
from apsara_tui.commands.catalog import help_of
from apsara_tui.commands.options import JsonOpt
from apsara_tui.commands.runtime import console, emit, run, run_as

app = typer.Typer(help=help_of("plan"), no_args_is_help=True)


def plans_table(plans: list[dict[str, Any]]) -> Table:
    """One row per plan and model: its limit ("20/day", "5 total"), then the plan's features."""
    table = Table("plan", "model", "limit", "files", "features", show_lines=False)
    for plan in plans:
        for i, (model, entry) in enumerate(sorted(plan["models"].items())):
            table.add_row(
                plan["name"] if i == 0 else "",
                model,
                limit_text(entry),
                files_text(plan.get("files")) if i == 0 else "",
                ", ".join(plan["features"]) if i == 0 else "",
                end_section=i == len(plan["models"]) - 1,
            )
    return table


def limit_text(entry: dict[str, Any] | None) -> str:
    """ "20/day", "5 total" or "-" for a plan's model entry."""
    entry = entry or {}
    if entry.get("total") is not None:
        return f"{entry['total']} total"
    if entry.get("daily") is not None:
        return f"{entry['daily']}/day"
    return "-"


def files_text(files: dict[str, int] | None) -> str:
    """ "20 / 100 MB" for a plan's stored-file limits per user."""
    if not files:
        return "-"
    return f"{files['maxFiles']} / {files['maxBytes'] / 1e6:,.0f} MB"


@app.command("list")
def list_plans(json_out: JsonOpt = False) -> None:
    """Every plan with its per-model limits (daily, or total for guests)."""
    emit(
        run(lambda core: core.plans.list()),
        json_out=json_out,
        human=lambda plans: console.print(plans_table(plans)),
    )


@app.command("set")
def set_limit(
    plan: Annotated[str, typer.Argument(help="Plan name: guest, free, premium.")],
    model: Annotated[str, typer.Option("--model", help=f"Model name, e.g. {PRO_MODEL}.")],
    daily: Annotated[str | None, typer.Option("--daily", help="Messages per UTC day.")] = None,
    total: Annotated[str | None, typer.Option("--total", help="Messages in total.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Set a plan's daily or total limit for a model (admins; audited)."""

    result = run_as(
        lambda core, me: core.plans.set_limit(
            actor=me, plan=plan, model=model, daily=daily, total=total
        )
    )
    if json_out:
        emit(result, json_out=True)
        return
    console.print(f"{plan}: {model} now {limit_text(result['models'][model])}")
    console.print(plans_table([result]))


@app.command("files")
def set_files(
    plan: Annotated[str, typer.Argument(help="Plan name: guest, free, premium.")],
    max_files: Annotated[
        str | None, typer.Option("--max-files", help="Stored files per user.")
    ] = None,
    max_bytes: Annotated[
        str | None,
        typer.Option("--max-bytes", help="Stored bytes per user, e.g. 100MB or 5GiB."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Set a plan's stored-file limits per user (admins; audited); unset ones stay."""
    result = run_as(
        lambda core, me: core.plans.set_file_limits(
            actor=me, plan=plan, max_files=max_files, max_bytes=max_bytes
        )
    )
    if json_out:
        emit(result, json_out=True)
        return
    files = result["files"]
    console.print(f"{plan}: {files['maxFiles']} files, {files['maxBytes']:,} bytes per user")
