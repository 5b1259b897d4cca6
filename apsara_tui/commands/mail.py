"""`apsara mail ...`: Mail sent by Apsara (the outbox when no SMTP server is set)."""

from __future__ import annotations

from typing import Annotated

import typer

from apsara_tui.commands.runtime import console, emit_json, run

app = typer.Typer(help="Mail sent by Apsara (the outbox when no SMTP server is set).", no_args_is_help=True)


@app.command()
def outbox(
    to: Annotated[str | None, typer.Option("--to", help="Only mails to this address.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="How many mails (1-500).")] = 20,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON array.")] = False,
) -> None:
    """The newest mails kept in the database, codes included (newest first)."""
    async def job(core):  # type: ignore[no-untyped-def]
        mails = await core.mail.outbox(to=to, limit=limit)
        return core.mail.backend, mails

    backend, mails = run(job)
    if json_out:
        emit_json([{k: m[k] for k in ("_id", "to", "from", "subject", "body", "createdAt")}
                   for m in mails])
        return
    if backend == "smtp":
        console.print("[yellow]EMAIL_SMTP_URL is set: new mails go to the SMTP server, "
                      "not to this outbox.[/]")
    if not mails:
        console.print("the outbox is empty")
    for m in mails:
        console.rule(f"{m['createdAt']:%Y-%m-%d %H:%M:%S} · to {m['to']}")
        console.print(f"[bold]{m['subject']}[/]", highlight=False)
        console.print(m["body"], highlight=False, markup=False)
