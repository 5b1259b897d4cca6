"""`apsara ai ...`: Talk to the model: send, edit, regenerate, embed.

Replies stream to the terminal as they arrive (thoughts dimmed) unless `--json`, which prints
the whole response document once. Who speaks follows the core's one actor rule
(`apsara_core.services.sessions`): a logged-in user speaks only in their own conversations;
the operator (no session) or an admin speaks as the conversation's owner, whose quota is
charged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import typer

from apsara_core.errors import InterruptedReplyError
from apsara_core.models import Principal
from apsara_core.services.chat import ChatEvent
from apsara_core.vocabulary import DEFAULT_EMBEDDING_MODEL, DEFAULT_MODEL, PRO_MODEL
from apsara_tui.commands.catalog import help_of
from apsara_tui.commands.options import ConvOpt, JsonOpt, UserOpt
from apsara_tui.commands.runtime import actor, console, emit, run, run_as

app = typer.Typer(help=help_of("ai"), no_args_is_help=True)
ModelOpt = Annotated[
    str,
    typer.Option(
        "--model", "-m", help=f"Model id, e.g. {PRO_MODEL}, or NAME/MODEL of a declared provider."
    ),
]
TempOpt = Annotated[float | None, typer.Option("--temperature", help="0 to 2.")]
MaxOpt = Annotated[int | None, typer.Option("--max-tokens", help="maxOutputTokens (> 0).")]
BudgetOpt = Annotated[
    int | None, typer.Option("--thinking-budget", help="Thinking tokens (2.5+ models).")
]
FileOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--file", help="A stored file id (apsara file list), gs:// or https:// URI (repeatable)."
    ),
]
ThoughtsOpt = Annotated[
    bool, typer.Option("--thoughts/--no-thoughts", help="Show the model's thoughts.")
]


def build_config(
    temperature: float | None, max_tokens: int | None, budget: int | None, thoughts: bool
) -> dict[str, Any]:
    """The camelCase generation config from the command's options."""
    config: dict[str, Any] = {}
    if temperature is not None:
        config["temperature"] = temperature
    if max_tokens is not None:
        config["maxOutputTokens"] = max_tokens
    thinking: dict[str, Any] = {"includeThoughts": True} if thoughts else {}
    if budget is not None:
        thinking["thinkingBudget"] = budget
    if thinking:
        config["thinkingConfig"] = thinking
    return config


async def speaker(core: Any, user: str | None, conversation_id: str) -> Principal:
    """Who speaks in the conversation (the core's rule): `--user` or the session's user, or
    for an admin the conversation's owner."""
    return await core.sessions.in_conversation(await actor(core, user), conversation_id)


async def render(events: AsyncIterator[ChatEvent], json_out: bool) -> dict[str, Any]:
    """Print events live (thoughts dimmed) or collect them; the "done" response."""
    response: dict[str, Any] = {}
    state = {"last": ""}
    try:
        async for event in events:
            if event.kind == "done":
                response = event.data
            elif not json_out and event.kind in ("thought", "text"):
                if state["last"] == "thought" and event.kind == "text":
                    console.print()
                console.print(
                    event.text,
                    end="",
                    style="dim" if event.kind == "thought" else None,
                    markup=False,
                    highlight=False,
                )
                state["last"] = event.kind
    finally:
        if not json_out and state["last"]:
            console.print()
    return response


def stream_command(
    conversation: str,
    user: str | None,
    json_out: bool,
    start: Callable[[Any, Principal], AsyncIterator[ChatEvent]],
) -> None:
    """Run one streamed chat call as the speaker, print it live, then the summary (or JSON).

    An interrupted reply was charged: with --json its partial reply (the error document with
    text, thoughts, modelMessageId and status "interrupted") still goes to stdout, the error
    to stderr, exit 1.
    """

    async def job(core: Any) -> dict[str, Any]:
        try:
            return await render(start(core, await speaker(core, user, conversation)), json_out)
        except InterruptedReplyError as exc:
            if json_out:
                emit(exc.to_dict(), json_out=True)
            raise

    finish(run(job), json_out)


def finish(response: dict[str, Any], json_out: bool) -> None:
    """Print the response (--json) or a one-line usage and timing summary."""
    if json_out:
        emit(response, json_out=True)
        return
    usage, meta = response["usageMetadata"], response["modelMetadata"]
    timing = meta["timing"]
    console.print(
        f"[dim]{meta['model']} · {usage['promptTokenCount']} in / "
        f"{usage['candidatesTokenCount']} out / {usage['thoughtsTokenCount']} thinking tokens · "
        f"first chunk {timing['firstChunkMs']} ms · total {timing['totalMs']} ms[/]",
        highlight=False,
    )


@app.command()
def send(
    text: Annotated[str, typer.Argument(help="The message.")],
    conversation: ConvOpt,
    user: UserOpt = None,
    model: ModelOpt = DEFAULT_MODEL,
    file: FileOpt = None,
    temperature: TempOpt = None,
    max_tokens: MaxOpt = None,
    thinking_budget: BudgetOpt = None,
    thoughts: ThoughtsOpt = True,
    json_out: JsonOpt = False,
) -> None:
    """Send a message (with the conversation's history) and stream the reply."""
    config = build_config(temperature, max_tokens, thinking_budget, thoughts)
    stream_command(
        conversation,
        user,
        json_out,
        lambda core, actor: core.chat.stream(
            actor=actor,
            conversation_id=conversation,
            text=text,
            model=model,
            config=config,
            files=file or None,
        ),
    )


@app.command()
def edit(
    text: Annotated[str, typer.Argument(help="The new text of the message.")],
    conversation: ConvOpt,
    message: Annotated[str, typer.Option("--message", help="The user message's id.")],
    user: UserOpt = None,
    model: ModelOpt = DEFAULT_MODEL,
    file: FileOpt = None,
    temperature: TempOpt = None,
    max_tokens: MaxOpt = None,
    thinking_budget: BudgetOpt = None,
    thoughts: ThoughtsOpt = True,
    json_out: JsonOpt = False,
) -> None:
    """Edit a user message; later messages are archived as a branch and a new reply streams."""
    config = build_config(temperature, max_tokens, thinking_budget, thoughts)
    stream_command(
        conversation,
        user,
        json_out,
        lambda core, actor: core.chat.stream_edit(
            actor=actor,
            conversation_id=conversation,
            message_id=message,
            new_text=text,
            model=model,
            config=config,
            files=file or None,
        ),
    )


@app.command()
def regenerate(
    conversation: ConvOpt,
    message: Annotated[
        str | None, typer.Option("--message", help="A model reply's id (default: the last).")
    ] = None,
    user: UserOpt = None,
    model: ModelOpt = DEFAULT_MODEL,
    file: FileOpt = None,
    temperature: TempOpt = None,
    max_tokens: MaxOpt = None,
    thinking_budget: BudgetOpt = None,
    thoughts: ThoughtsOpt = True,
    json_out: JsonOpt = False,
) -> None:
    """Regenerate the last (or a given) reply; the previous one is kept as an archived version."""
    config = build_config(temperature, max_tokens, thinking_budget, thoughts)
    stream_command(
        conversation,
        user,
        json_out,
        lambda core, actor: core.chat.stream_regenerate(
            actor=actor,
            conversation_id=conversation,
            message_id=message,
            model=model,
            config=config,
            files=file or None,
        ),
    )


@app.command()
def embed(
    texts: Annotated[list[str], typer.Argument(help="One or more texts.")],
    user: UserOpt = None,
    model: Annotated[
        str, typer.Option("--model", "-m", help="Embedding model.")
    ] = DEFAULT_EMBEDDING_MODEL,
    dimensions: Annotated[
        int | None, typer.Option("--dimensions", help="outputDimensionality.")
    ] = None,
    task_type: Annotated[
        str | None, typer.Option("--task-type", help="e.g. RETRIEVAL_QUERY.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Embed texts in one batch (--json: {"embeddings": [[...]], "model"})."""
    out = run_as(
        lambda core, me: core.chat.embed(
            actor=me,
            texts=list(texts),
            model=model,
            task_type=task_type,
            output_dimensionality=dimensions,
        ),
        user,
        need_user=True,
    )
    if json_out:
        emit(out, json_out=True)
        return
    for text, vector in zip(texts, out["embeddings"], strict=False):
        head = ", ".join(f"{v:.4f}" for v in vector[:4])
        console.print(f"{text[:40]!r}: {len(vector)} dims [{head}, ...]", highlight=False)
