"""`apsara conv ...`: Conversations: create, list, show, messages, search, versions, rename,
delete (a conversation or one message), export.

Who acts follows the core's one rule (`apsara_core.services.sessions`): without a session the
operator acts as admin on any conversation; with one, the logged-in user reaches only their
own. `create` and `list` work on `--user EMAIL_OR_ID`'s conversations (default: the logged-in
user's).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from apsara_core.models.views import ConversationView
from apsara_tui.commands.catalog import help_of
from apsara_tui.commands.options import ConvArg, JsonOpt, UserOpt, YesOpt
from apsara_tui.commands.runtime import console, emit, run_as

app = typer.Typer(help=help_of("conv"), no_args_is_help=True)


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def show_conversation(conv: dict[str, Any]) -> None:
    """Print one conversation as label: value lines."""
    view = ConversationView.of(conv)
    rows = [
        ("id", view.conversation_id),
        ("title", view.title),
        ("user", view.user_id),
        ("system", view.system_instruction or "-"),
        ("messages", str(view.message_count)),
        ("tokens", str(view.total_tokens)),
        ("created", _when(view.created_at)),
        ("last activity", _when(view.last_activity)),
    ]
    for label, value in rows:
        console.print(f"[bold]{label:>14}[/] {value}", highlight=False)


@app.command()
def create(
    title: Annotated[str, typer.Option("--title", help="The conversation's title.")],
    system_instruction: Annotated[
        str | None,
        typer.Option("--system-instruction", help="Fixed once the first message is sent."),
    ] = None,
    user: UserOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Create a conversation for a user (--json: the conversation document)."""
    conv = run_as(
        lambda core, me: core.conversations.create(
            actor=me, title=title, system_instruction=system_instruction
        ),
        user,
        need_user=True,
    )
    if json_out:
        emit(conv, json_out=True)
    else:
        console.print(f'created {conv["conversationId"]} "{conv["title"]}"', highlight=False)


@app.command("list")
def list_conversations(
    user: UserOpt = None,
    all_users: Annotated[bool, typer.Option("--all", help="Everyone's conversations.")] = False,
    limit: Annotated[int, typer.Option("--limit", help="At most this many (1-1000).")] = 50,
    json_out: JsonOpt = False,
) -> None:
    """List conversations, newest activity first (--json: an array)."""
    if all_users:
        convs = run_as(
            lambda core, me: core.conversations.list(actor=me, limit=limit, everyone=True)
        )
    else:
        convs = run_as(
            lambda core, me: core.conversations.list(actor=me, user_id=me.user_id, limit=limit),
            user,
            need_user=True,
        )
    if json_out:
        emit(convs, json_out=True)
        return
    table = Table("id", "title", "user", "messages", "last activity")
    for view in map(ConversationView.of, convs):
        table.add_row(
            view.conversation_id,
            view.title,
            view.user_id,
            str(view.message_count),
            _when(view.last_activity),
        )
    console.print(table)


@app.command()
def show(conversation_id: ConvArg, json_out: JsonOpt = False) -> None:
    """Show one conversation and its stats."""
    conv = run_as(
        lambda core, me: core.conversations.get(actor=me, conversation_id=conversation_id)
    )
    emit(conv, json_out=json_out, human=show_conversation)


@app.command()
def messages(
    conversation_id: ConvArg,
    limit: Annotated[int, typer.Option("--limit", help="The newest N messages (1-1000).")] = 50,
    before: Annotated[
        int | None, typer.Option("--before", help="Messages before this sequence.")
    ] = None,
    user: UserOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Print the newest messages, oldest first (--json: an array of messages)."""
    msgs = run_as(
        lambda core, me: core.conversations.messages(
            actor=me, conversation_id=conversation_id, before_sequence=before, limit=limit
        ),
        user,
    )
    if json_out:
        emit(msgs, json_out=True)
        return
    for m in msgs:
        print_message(m)


def print_message(m: dict[str, Any]) -> None:
    """One message: a header line, dimmed thoughts, the text."""
    status = (m.get("metadata") or {}).get("status")
    flags = " (edited)" if m.get("isEdited") else ""
    flags += " (interrupted)" if status == "interrupted" else ""
    console.print(
        f"[bold]#{m['messageSequence']} {m['role']}[/]{flags} [dim]{m['messageId']}[/]",
        highlight=False,
    )
    thoughts = (m.get("content") or {}).get("thoughts")
    if thoughts:
        console.print(f"[dim]{thoughts}[/]", highlight=False, markup=True)
    console.print((m.get("content") or {}).get("text", ""), highlight=False, markup=False)


@app.command()
def rename(
    conversation_id: ConvArg,
    title: Annotated[str, typer.Option("--title", help="The new title.")],
    json_out: JsonOpt = False,
) -> None:
    """Change a conversation's title."""
    conv = run_as(
        lambda core, me: core.conversations.update(
            actor=me, conversation_id=conversation_id, title=title
        )
    )
    emit(
        conv,
        json_out=json_out,
        human=lambda c: console.print(
            f'renamed {c["conversationId"]} to "{c["title"]}"', highlight=False
        ),
    )


@app.command()
def delete(conversation_id: ConvArg, yes: YesOpt = False, json_out: JsonOpt = False) -> None:
    """Delete a conversation with its messages (asks first unless --yes)."""

    async def job(core: Any, me: Any) -> dict[str, Any]:
        if not yes:
            conv = await core.conversations.get(actor=me, conversation_id=conversation_id)
            typer.confirm(
                f'Delete "{conv["title"]}" and its {conv["stats"]["totalMessages"]} messages?',
                abort=True,
            )
        return await core.conversations.delete(actor=me, conversation_id=conversation_id)

    emit(
        run_as(job),
        json_out=json_out,
        human=lambda out: console.print(f"deleted 1 conversation and {out['messages']} messages"),
    )


@app.command("delete-all")
def delete_all(user: UserOpt = None, yes: YesOpt = False, json_out: JsonOpt = False) -> None:
    """Delete every conversation of a user (asks first unless --yes)."""

    async def job(core: Any, me: Any) -> dict[str, Any]:
        if not yes:
            typer.confirm(f"Delete ALL conversations of {me.email or me.user_id}?", abort=True)
        return await core.conversations.delete_all(actor=me, user_id=me.user_id)

    emit(
        run_as(job, user, need_user=True),
        json_out=json_out,
        human=lambda out: console.print(
            f"deleted {out['conversations']} conversations and {out['messages']} messages"
        ),
    )


@app.command()
def export(
    conversation_id: ConvArg,
    fmt: Annotated[str, typer.Option("--format", help="json or markdown.")] = "json",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file.")
    ] = None,
) -> None:
    """Export a conversation with all its messages as JSON or Markdown."""
    text = run_as(
        lambda core, me: core.conversations.export(
            actor=me, conversation_id=conversation_id, fmt=fmt
        )
    )
    if output is None:
        typer.echo(text, nl=not text.endswith("\n"))
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output}", highlight=False)


MsgArg = Annotated[str, typer.Argument(metavar="MESSAGE_ID", help="The message's id.")]


@app.command("delete-message")
def delete_message(
    conversation_id: ConvArg,
    message_id: MsgArg,
    with_reply: Annotated[
        bool,
        typer.Option("--with-reply", help="A user message that has a reply goes with its reply."),
    ] = False,
    user: UserOpt = None,
    yes: YesOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Delete one message (asks first unless --yes; a prompt with a reply needs --with-reply)."""

    async def job(core: Any, me: Any) -> dict[str, Any]:
        if not yes:
            what = "the message and the reply that answers it" if with_reply else "the message"
            typer.confirm(f"Delete {what} {message_id}?", abort=True)
        return await core.messages.delete_message(
            actor=me, conversation_id=conversation_id, message_id=message_id, with_reply=with_reply
        )

    def human(out: dict[str, Any]) -> None:
        gone = ", ".join(f"#{d['messageSequence']} {d['role']}" for d in out["deleted"])
        console.print(f"deleted {gone}; {out['messages']} messages left", highlight=False)

    emit(run_as(job, user), json_out=json_out, human=human)


@app.command()
def search(
    conversation_id: ConvArg,
    query: Annotated[str, typer.Argument(metavar="QUERY", help="Text to find (any case).")],
    page: Annotated[int, typer.Option("--page", help="Page of results, from 1.")] = 1,
    limit: Annotated[int, typer.Option("--limit", help="Results per page (1-100).")] = 20,
    user: UserOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Find messages of a conversation by their text, newest first (--json: the page)."""
    out = run_as(
        lambda core, me: core.messages.search_messages(
            actor=me, conversation_id=conversation_id, query=query, page=page, limit=limit
        ),
        user,
    )

    def human(found: dict[str, Any]) -> None:
        if not found["items"]:
            console.print(f"no message contains {found['query']!r}", highlight=False)
        for item in found["items"]:
            console.print(
                f"[bold]#{item['messageSequence']} {item['role']}[/] [dim]{item['messageId']}[/]",
                highlight=False,
            )
            console.print(f"  {item['snippet']}", highlight=False, markup=False)
        if found["hasMore"]:
            console.print(f"[dim]more: --page {found['page'] + 1}[/]", highlight=False)

    emit(out, json_out=json_out, human=human)


@app.command()
def versions(conversation_id: ConvArg, user: UserOpt = None, json_out: JsonOpt = False) -> None:
    """List the messages that have sibling versions (from edit and regenerate)."""
    forks = run_as(
        lambda core, me: core.messages.versions(actor=me, conversation_id=conversation_id), user
    )

    def human(found: list[dict[str, Any]]) -> None:
        if not found:
            console.print("no message has other versions", highlight=False)
        for fork in found:
            where = (
                f"#{fork['messageSequence']} {fork['messageId']}"
                if fork["messageId"]
                else f"after #{fork['parentSequence']} {fork['parentId']} (nothing current)"
            )
            console.print(
                f"[bold]{where}[/] version {fork['current'] or '-'}/{len(fork['versions'])}",
                highlight=False,
            )
            for v in fork["versions"]:
                mark = "*" if v["current"] else " "
                console.print(
                    f" {mark} {v['version']}. #{v['messageSequence']} {v['role']} · "
                    f"{v['messages']} msg · {v['preview']}",
                    highlight=False,
                    markup=False,
                )

    emit(forks, json_out=json_out, human=human)


@app.command("switch-version")
def switch_version(
    conversation_id: ConvArg,
    message_id: MsgArg,
    version: Annotated[int, typer.Argument(metavar="N", help="The version to make current.")],
    user: UserOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Make version N of a message current, with all that follows it (the rest is kept)."""
    out = run_as(
        lambda core, me: core.messages.switch_version(
            actor=me, conversation_id=conversation_id, message_id=message_id, to_version=version
        ),
        user,
    )
    emit(
        out,
        json_out=json_out,
        human=lambda o: console.print(
            f"now on version {o['version']}/{o['of']} ({o['messageId']}, "
            f"{o['restored']} messages brought back)"
            if o["switched"]
            else f"version {o['version']}/{o['of']} is already current",
            highlight=False,
        ),
    )
