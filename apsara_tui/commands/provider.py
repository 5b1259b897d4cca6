"""`apsara provider add|list|remove|test`: declared AI provider instances (admins)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from apsara_tui.commands.catalog import help_of
from apsara_tui.commands.options import JsonOpt
from apsara_tui.commands.runtime import console, emit, err_console, run_as

app = typer.Typer(help=help_of("provider"), no_args_is_help=True)


def providers_table(instances: list[dict[str, Any]]) -> Table:
    """One row per instance: name, kind, base URL, key source, models."""
    table = Table("name", "kind", "base URL", "key from", "models")
    for p in instances:
        key = p["apiKeyEnv"] and f"${p['apiKeyEnv']}" or p["apiKeyFile"] or "(none)"
        models = ", ".join(
            m["name"]
            + (" (thinks)" if m["thinks"] else "")
            + (" (embedding)" if m.get("embedding") else "")
            for m in p["models"]
        )
        table.add_row(p["name"], p["kind"], p["baseUrl"] or "(SDK default)", key, models)
    return table


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Instance name: its models are NAME/MODEL.")],
    kind: Annotated[
        str, typer.Option("--kind", help="openai (any OpenAI-compatible server) or anthropic.")
    ],
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="e.g. http://localhost:11434/v1 (Ollama).")
    ] = None,
    api_key_env: Annotated[
        str | None, typer.Option("--api-key-env", help="Variable holding the key (never stored).")
    ] = None,
    api_key_file: Annotated[
        str | None, typer.Option("--api-key-file", help="Absolute path of a file holding the key.")
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option("--model", help="MODEL[,window=N][,thinks][,embedding]; repeat for more."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Declare a provider instance (admins; audited)."""
    result = run_as(
        lambda core, me: core.provider_catalog.add(
            actor=me,
            name=name,
            kind=kind,
            base_url=base_url,
            api_key_env=api_key_env,
            api_key_file=api_key_file,
            models=list(model or []),
        )
    )
    if json_out:
        emit(result, json_out=True)
        return
    console.print(f"Added provider {name}: {', '.join(result['modelIds'])}")
    console.print("Add its models to a plan: apsara plan set PLAN --model NAME/MODEL --daily N")


@app.command("list")
def list_providers(json_out: JsonOpt = False) -> None:
    """Every declared instance with its kind, base URL and models."""
    emit(
        run_as(lambda core, me: core.provider_catalog.list(actor=me)),
        json_out=json_out,
        human=lambda rows: (
            console.print(providers_table(rows))
            if rows
            else console.print(
                "No providers declared (the built-in Gemini provider is always there)."
            )
        ),
    )


@app.command("remove")
def remove(
    name: Annotated[str, typer.Argument(help="Instance name.")],
    json_out: JsonOpt = False,
) -> None:
    """Remove a declared instance (admins; audited)."""
    result = run_as(lambda core, me: core.provider_catalog.remove(actor=me, name=name))
    emit(result, json_out=json_out, human=lambda r: console.print(f"Removed provider {r['name']}"))


@app.command("test")
def test(
    name: Annotated[str, typer.Argument(help="Instance name.")],
    model: Annotated[
        str | None, typer.Option("--model", help="NAME/MODEL (default: its first model).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Send one tiny request; print the latency, or the provider's exact error (exit 1)."""
    result = run_as(lambda core, me: core.provider_catalog.test(actor=me, name=name, model=model))
    if json_out:
        emit(result, json_out=True)
    elif result["ok"]:
        console.print(f"{result['model']}: OK in {result['latencyMs']} ms: {result['text']!r}")
    else:
        err = result["error"]
        err_console.print(
            f"error: {result['model']}: {err['code']}: {err['message']}", highlight=False
        )
    if not result["ok"]:
        raise typer.Exit(1)
