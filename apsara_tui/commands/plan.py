"""`apsara plan list|set|group|files`: subscription plans, their model limits (per model or per
model group) and file limits."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from apsara_core.vocabulary import PRO_MODEL
from apsara_tui.commands.catalog import help_of
from apsara_tui.commands.options import JsonOpt
from apsara_tui.commands.runtime import console, emit, run, run_as

app = typer.Typer(help=help_of("plan"), no_args_is_help=True)


def plan_rows(plan: dict[str, Any]) -> list[tuple[str, str]]:
    """(model or "group NAME: m1, m2", limit text) for each model and group of a plan."""
    rows = [(model, limit_text(entry)) for model, entry in sorted(plan["models"].items())]
    for name, group in sorted((plan.get("groups") or {}).items()):
        rows.append((f"group {name}: {', '.join(group['models'])}", f"{limit_text(group)} shared"))
    return rows


def plans_table(plans: list[dict[str, Any]]) -> Table:
    """One row per plan and model or model group: its limit ("20/day", "5 total"; a group's
    is shared by its models), then the plan's files and features."""
    table = Table("plan", "model", "limit", "files", "features", show_lines=False)
    for plan in plans:
        rows = plan_rows(plan)
        for i, (model, limit) in enumerate(rows):
            table.add_row(
                plan["name"] if i == 0 else "",
                model,
                limit,
                files_text(plan.get("files")) if i == 0 else "",
                ", ".join(plan["features"]) if i == 0 else "",
                end_section=i == len(rows) - 1,
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
    """Every plan with its limits per model and per model group (daily, or total for guests)."""
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


@app.command("group")
def set_group(
    plan: Annotated[str, typer.Argument(help="Plan name: guest, free, premium.")],
    group: Annotated[str, typer.Argument(help="Group name: letters, digits, _ or -.")],
    models: Annotated[
        list[str] | None,
        typer.Option("--model", help="A model of the group (repeat), e.g. ollama/llama3.2."),
    ] = None,
    daily: Annotated[
        str | None, typer.Option("--daily", help="Messages per UTC day, shared.")
    ] = None,
    total: Annotated[str | None, typer.Option("--total", help="Messages in total, shared.")] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Remove the group.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Set a plan's model group: its models share one daily or total limit (admins; audited).
    The models leave the plan's per-model limits; --remove takes the group (and them) out."""
    if remove and (models or daily is not None or total is not None):
        raise typer.BadParameter("--remove takes no --model, --daily or --total")
    result = run_as(
        lambda core, me: (
            core.plans.remove_group(actor=me, plan=plan, group=group)
            if remove
            else core.plans.set_group(
                actor=me, plan=plan, group=group, models=models or [], daily=daily, total=total
            )
        )
    )
    if json_out:
        emit(result, json_out=True)
        return
    if remove:
        console.print(f"{plan}: group {group} removed")
    else:
        entry = result["groups"][group]
        console.print(
            f"{plan}: group {group} ({', '.join(entry['models'])}) now {limit_text(entry)}"
        )
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
