"""`apsara stats db|user`: statistics of the whole database, or of one user."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from apsara_core.core import Core
from apsara_core.models import Principal
from apsara_tui.commands.catalog import help_of
from apsara_tui.commands.options import JsonOpt
from apsara_tui.commands.runtime import console, emit, run_as

app = typer.Typer(help=help_of("stats"), no_args_is_help=True)
DaysOpt = Annotated[int, typer.Option("--days", help="How many days back (1-366).")]


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    table = Table(*columns, title=title, title_justify="left", show_edge=False)
    for row in rows:
        table.add_row(*(str(v) for v in row))
    return table


@app.command("db")
def database(days: DaysOpt = 30, json_out: JsonOpt = False) -> None:
    """Users by plan, role and provider; registrations, messages, tokens, refusals and failed
    calls per day; model popularity; most active users. Admins (or no login) only."""

    data = run_as(lambda core, me: core.stats.database(actor=me, days=days))
    if json_out:
        emit(data, json_out=True)
        return
    users, totals = data["users"], data["totals"]
    console.print(
        f"[b]Database statistics[/] {data['period']['from']} → {data['period']['to']}: "
        f"{users['total']} users, {totals['messages']} messages, {totals['tokens']} "
        f"tokens, {data['rateLimitRefusals']} rate-limit refusals, "
        f"{data['errors']['failedCalls']} failed calls"
    )
    for name in ("byPlan", "byRole", "byProvider"):
        console.print(
            _table(
                f"users {name[2:].lower()}",
                ["value", "users"],
                [[k, v] for k, v in sorted(users[name].items())],
            )
        )
    regs = {r["date"]: r["count"] for r in data["registrationsPerDay"]}
    console.print(
        _table(
            "per day",
            ["date", "registrations", "messages", "tokens", "refused", "failed"],
            [
                [
                    d["date"],
                    regs.get(d["date"], 0),
                    d["messages"],
                    d["tokens"],
                    d["refused"],
                    d["failed"],
                ]
                for d in data["usagePerDay"]
            ],
        )
    )
    console.print(
        _table(
            "model popularity",
            ["model", "messages", "tokens", "refused", "failed"],
            [
                [m["model"], m["messages"], m["tokens"], m["refused"], m["failed"]]
                for m in data["models"]
            ],
        )
    )
    console.print(
        _table(
            "most active users",
            ["email", "messages", "tokens", "refused"],
            [
                [u["email"] or u["userId"], u["messages"], u["tokens"], u["refused"]]
                for u in data["mostActiveUsers"]
            ],
        )
    )


async def _user_stats(
    core: Core, me: Principal, user: str | None, password: str | None, days: int
) -> dict[str, Any]:
    subject = core.sessions.subject(me, user)
    if not me.is_admin and password is None:
        password = typer.prompt(
            "Your password", hide_input=True, default="", show_default=False, err=True
        )  # stdout stays JSON
    return await core.stats.user(actor=me, user=subject, password=password, days=days)


@app.command("user")
def user_stats(
    user: Annotated[str | None, typer.Option("--user", help="Email or id (admins).")] = None,
    password: Annotated[
        str | None,
        typer.Option("--password", help="Your password (asked for when logged in as a non-admin)."),
    ] = None,
    days: DaysOpt = 30,
    json_out: JsonOpt = False,
) -> None:
    """Conversations, messages by role, tokens, model preferences, most active conversations,
    messages per day and today's quota of one user (password protected for non-admins)."""
    data = run_as(lambda core, me: _user_stats(core, me, user, password, days))
    if json_out:
        emit(data, json_out=True)
        return
    u, msgs, tokens = data["user"], data["messages"], data["tokens"]
    console.print(
        f"[b]{u['email']}[/] ({u['subscriptionPlan']}, {u['role']}): "
        f"{data['conversations']['total']} conversations, {msgs['total']} messages "
        f"({', '.join(f'{k} {v}' for k, v in sorted(msgs['byRole'].items())) or 'none'})"
    )
    console.print(
        f"tokens: {tokens['total']} (prompt {tokens['prompt']}, output "
        f"{tokens['output']}, thoughts {tokens['thoughts']})"
    )
    quota = data["quota"]["dailyUsage"]
    console.print(
        _table(
            f"quota today ({quota['date']})",
            ["model", "used", "limit"],
            [[m, q["count"], q["limit"]] for m, q in quota.items() if m != "date"],
        )
    )
    console.print(
        _table(
            "models",
            ["model", "messages", "tokens"],
            [[m["model"], m["messages"], m["tokens"]] for m in data["models"]],
        )
    )
    console.print(
        _table(
            "most active conversations",
            ["title", "messages", "tokens"],
            [[c["title"], c["messages"], c["tokens"]] for c in data["conversations"]["mostActive"]],
        )
    )
    console.print(
        _table(
            "messages per day",
            ["date", "messages"],
            [[d["date"], d["count"]] for d in data["messagesPerDay"] if d["count"]],
        )
    )
