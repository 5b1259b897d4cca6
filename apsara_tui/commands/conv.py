"""`apsara conv ...`: Conversations: create, list, show, messages, rename, delete, export.

The CLI is an operator tool: commands that name a conversation id act as admin on it; `create`
and `list` act for `--user EMAIL_OR_ID` (default: the logged-in session's user).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from apsara_core.models import Principal
from apsara_tui.commands.runtime import acting_user, console, emit_json, run

app = typer.Typer(help="Conversations: create, list, show, messages, rename, delete, export.", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
UserOpt = Annotated[str | None, typer.Option("--user", help="Email or id of the user (default: logged in).")]
ConvArg = Annotated[str, typer.Argument(metavar="CONVERSATION_ID", help="The conversation's id.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
OP = Principal.operator()


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def show_conversation(conv: dict[str, Any]) -> None:
    """Print one conversation as label: value lines."""
    stats = conv.get("stats") or {}
    rows = [("id", conv["conversationId"]), ("title", conv["title"]), ("user", conv["userId"]),
            ("system", ((conv.get("config") or {}).get("rest") or {}).get("systemInstruction") or "-"),
            ("messages", str(stats.get("totalMessages", 0))), ("tokens", str(stats.get("totalTokens", 0))),
            ("created", _when(conv.get("createdAt"))), ("last activity", _when(stats.get("lastActivity")))]
    for label, value in rows:
        console.print(f"[bold]{label:>14}[/] {value}", highlight=False)


@app.command()
def create(
    title: Annotated[str, typer.Option("--title", help="The conversation's title.")],
    system_instruction: Annotated[str | None, typer.Option(
        "--system-instruction", help="Fixed once the first message is sent.")] = None,
    user: UserOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Create a conversation for a user (--json: the conversation document)."""
    async def job(core: Any) -> dict[str, Any]:
        actor = await acting_user(core, user)
        return await core.conversations.create(actor=actor, title=title,
                                               system_instruction=system_instruction)

    conv = run(job)
    if json_out:
        emit_json(conv)
    else:
        console.print(f"created {conv['conversationId']} \"{conv['title']}\"", highlight=False)


@app.command("list")
def list_conversations(
    user: UserOpt = None,
    all_users: Annotated[bool, typer.Option("--all", help="Everyone's conversations.")] = False,
    limit: Annotated[int, typer.Option("--limit", help="At most this many (1-1000).")] = 50,
    json_out: JsonOpt = False,
) -> None:
    """List conversations, newest activity first (--json: an array)."""
    async def job(core: Any) -> list[dict[str, Any]]:
        if all_users:
            return await core.conversations.list(actor=OP, limit=limit)
        actor = await acting_user(core, user)
        return await core.conversations.list(actor=OP, user_id=actor.user_id, limit=limit)

    convs = run(job)
    if json_out:
        emit_json(convs)
        return
    table = Table("id", "title", "user", "messages", "last activity")
    for c in convs:
        stats = c.get("stats") or {}
        table.add_row(c["conversationId"], c["title"], c["userId"], str(stats.get("totalMessages", 0)),
                      _when(stats.get("lastActivity")))
    console.print(table)


@app.command()
def show(conversation_id: ConvArg, json_out: JsonOpt = False) -> None:
    """Show one conversation and its stats."""
    conv = run(lambda core: core.conversations.get(actor=OP, conversation_id=conversation_id))
    if json_out:
        emit_json(conv)
    else:
        show_conversation(conv)


@app.command()
def messages(
    conversation_id: ConvArg,
    limit: Annotated[int, typer.Option("--limit", help="The newest N messages (1-1000).")] = 50,
    before: Annotated[int | None, typer.Option("--before", help="Messages before this sequence.")] = None,
    user: UserOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Print the newest messages, oldest first (--json: an array of messages)."""
    async def job(core: Any) -> list[dict[str, Any]]:
        actor = await acting_user(core, user) if user else OP
        return await core.conversations.messages(actor=actor, conversation_id=conversation_id,
                                                 before_sequence=before, limit=limit)

    msgs = run(job)
    if json_out:
        emit_json(msgs)
        return
    for m in msgs:
        print_message(m)


def print_message(m: dict[str, Any]) -> None:
    """One message: a header line, dimmed thoughts, the text."""
    status = (m.get("metadata") or {}).get("status")
    flags = " (edited)" if m.get("isEdited") else ""
    flags += " (interrupted)" if status == "interrupted" else ""
    console.print(f"[bold]#{m['messageSequence']} {m['role']}[/]{flags} [dim]{m['messageId']}[/]",
                  highlight=False)
    thoughts = (m.get("content") or {}).get("thoughts")
    if thoughts:
        console.print(f"[dim]{thoughts}[/]", highlight=False, markup=True)
    console.print((m.get("content") or {}).get("text", ""), highlight=False, markup=False)


@app.command()
def rename(conversation_id: ConvArg,
           title: Annotated[str, typer.Option("--title", help="The new title.")],
           json_out: JsonOpt = False) -> None:
    """Change a conversation's title."""
    conv = run(lambda core: core.conversations.update(actor=OP, conversation_id=conversation_id,
                                                      title=title))
    if json_out:
        emit_json(conv)
    else:
        console.print(f"renamed {conv['conversationId']} to \"{conv['title']}\"", highlight=False)


@app.command()
def delete(conversation_id: ConvArg, yes: YesOpt = False, json_out: JsonOpt = False) -> None:
    """Delete a conversation with its messages (asks first unless --yes)."""
    if not yes:
        conv = run(lambda core: core.conversations.get(actor=OP, conversation_id=conversation_id))
        typer.confirm(f"Delete \"{conv['title']}\" and its {conv['stats']['totalMessages']} messages?",
                      abort=True)
    out = run(lambda core: core.conversations.delete(actor=OP, conversation_id=conversation_id))
    if json_out:
        emit_json(out)
    else:
        console.print(f"deleted 1 conversation and {out['messages']} messages")


@app.command("delete-all")
def delete_all(user: UserOpt = None, yes: YesOpt = False, json_out: JsonOpt = False) -> None:
    """Delete every conversation of a user (asks first unless --yes)."""
    async def owner(core: Any) -> Principal:
        return await acting_user(core, user)

    actor = run(owner)
    if not yes:
        typer.confirm(f"Delete ALL conversations of {actor.email or actor.user_id}?", abort=True)
    out = run(lambda core: core.conversations.delete_all(actor=OP, user_id=actor.user_id))
    if json_out:
        emit_json(out)
    else:
        console.print(f"deleted {out['conversations']} conversations and {out['messages']} messages")


@app.command()
def export(
    conversation_id: ConvArg,
    fmt: Annotated[str, typer.Option("--format", help="json or markdown.")] = "json",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file.")] = None,
) -> None:
    """Export a conversation with all its messages as JSON or Markdown."""
    text = run(lambda core: core.conversations.export(actor=OP, conversation_id=conversation_id, fmt=fmt))
    if output is None:
        typer.echo(text, nl=not text.endswith("\n"))
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output}", highlight=False)
