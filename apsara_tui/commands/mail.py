"""`apsara mail ...`: Mail sent by Apsara (the outbox when no SMTP server is set)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from apsara_tui.commands.catalog import help_of
from apsara_tui.commands.runtime import console, emit, run_as

app = typer.Typer(help=help_of("mail"), no_args_is_help=True)


@app.command()
def outbox(
    to: Annotated[str | None, typer.Option("--to", help="Only mails to this address.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="How many mails (1-500).")] = 20,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON array.")] = False,
) -> None:
    """The newest mails kept in the database, codes included (newest first)."""

    async def job(core: Any, me: Any) -> tuple[str, list[dict[str, Any]]]:
        return core.mail.backend, await core.mail.outbox(actor=me, to=to, limit=limit)

    backend, mails = run_as(job)
    if json_out:
        emit(
            [
                {k: m[k] for k in ("_id", "to", "from", "subject", "body", "createdAt")}
                for m in mails
            ],
            json_out=True,
        )
        return
    if backend == "smtp":
        console.print(
            "[yellow]EMAIL_SMTP_URL is set: new mails go to the SMTP server, not to this outbox.[/]"
        )
    if not mails:
        console.print("the outbox is empty")
    for m in mails:
        console.rule(f"{m['createdAt']:%Y-%m-%d %H:%M:%S} · to {m['to']}")
        console.print(f"[bold]{m['subject']}[/]", highlight=False)
        console.print(m["body"], highlight=False, markup=False)
