"""`apsara plugin ...`: Plugins: list, show, call (sync or as a job), job, jobs, cancel.

Calls act as a user (`--user EMAIL_OR_ID`, or the logged-in user). `--param k=v` values are
read as JSON when they parse (15, true, [1,2], {"a":1}) and as strings otherwise. An async
call (`--async`) is queued; a worker runs it (`apsara serve`'s own, or `apsara worker`).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from apsara_tui.commands.catalog import help_of
from apsara_tui.commands.options import JsonOpt, UserOpt
from apsara_tui.commands.runtime import console, emit, run, run_as
from apsara_tui.values import read_value

app = typer.Typer(help=help_of("plugin"), no_args_is_help=True)
KeyArg = Annotated[
    str, typer.Argument(metavar="PROVIDER/NAME", help="The plugin, e.g. google/calculator.")
]
JobArg = Annotated[str, typer.Argument(metavar="JOB_ID", help="The job's id.")]


def _split(key: str) -> tuple[str, str]:
    provider, sep, name = key.partition("/")
    if not sep or not provider or not name:
        raise typer.BadParameter(
            "must be PROVIDER/NAME, e.g. google/calculator", param_hint="PROVIDER/NAME"
        )
    return provider, name


def parse_params(pairs: list[str], params_json: str | None) -> dict[str, Any]:
    """`--params-json` (an object) updated by each `--param k=v`."""
    params: dict[str, Any] = {}
    if params_json is not None:
        loaded = read_value(params_json)
        if not isinstance(loaded, dict):
            raise typer.BadParameter("must be a JSON object", param_hint="--params-json")
        params.update(loaded)
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r} is not k=v", param_hint="--param")
        params[key] = read_value(text)
    return params


@app.command("list")
def list_plugins(
    provider: Annotated[
        str | None, typer.Option("--provider", help="Only this provider's.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """The plugins (--json: an array of {provider, name, description, parameters, ...})."""

    async def job(core: Any) -> dict[str, Any]:
        return core.plugins.list(provider)

    found = run(job)

    def human(result: dict[str, Any]) -> None:
        table = Table("plugin", "description", "timeout", "async")
        for p in result["plugins"]:
            async_ok = "yes" if p["mayRunAsync"] else "no"
            table.add_row(
                f"{p['provider']}/{p['name']}",
                p["description"],
                f"{p['timeoutSeconds']:g} s",
                async_ok,
            )
        console.print(table)
        for b in result["broken"]:
            console.print(
                f"[red]broken[/] {b['entryPoint']} ({b['value']}): {b['error']}", highlight=False
            )

    emit(found["plugins"], json_out=json_out, human=lambda _: human(found))


@app.command()
def show(key: KeyArg, json_out: JsonOpt = False) -> None:
    """One plugin: its description, timeout and parameter schema."""
    provider, name = _split(key)

    async def job(core: Any) -> dict[str, Any]:
        return core.plugins.show(provider, name)

    found = run(job)

    def human(p: dict[str, Any]) -> None:
        console.print(f"[bold]{p['provider']}/{p['name']}[/] — {p['description']}")
        console.print(
            f"timeout {p['timeoutSeconds']:g} s, async {'yes' if p['mayRunAsync'] else 'no'}"
        )
        console.print_json(json.dumps(p["parameters"]))

    emit(found, json_out=json_out, human=human)


@app.command()
def call(
    key: KeyArg,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="k=v (repeatable).")
    ] = None,
    params_json: Annotated[
        str | None, typer.Option("--params-json", help="All parameters as a JSON object.")
    ] = None,
    conversation: Annotated[
        str | None,
        typer.Option(
            "--conversation", "-c", help="Store the call here (default: a new conversation)."
        ),
    ] = None,
    send_to_model: Annotated[
        bool, typer.Option("--send-to-model", help="Let the model answer the result.")
    ] = False,
    run_async: Annotated[bool, typer.Option("--async", help="Queue a job; print its id.")] = False,
    idempotency_key: Annotated[
        str | None,
        typer.Option("--idempotency-key", help="Retries with this key get the same job."),
    ] = None,
    model: Annotated[
        str, typer.Option("--model", help="The model that answers.")
    ] = "gemini-2.5-flash",
    user: UserOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Call a plugin (--json: {success, result, toolMessageId, modelResponse?}, or with --async
    {success, jobId, status})."""
    provider, name = _split(key)
    params = parse_params(param or [], params_json)

    async def job(core: Any, me: Any) -> dict[str, Any]:
        return await core.plugins.call(
            actor=me,
            provider=provider,
            plugin=name,
            parameters=params,
            conversation_id=conversation,
            send_to_model=send_to_model,
            run_async=run_async,
            idempotency_key=idempotency_key,
            model=model,
        )

    result = run_as(job, user, need_user=True)

    def human(r: dict[str, Any]) -> None:
        if "jobId" in r:
            console.print(
                f"queued job {r['jobId']}: a worker runs it (`apsara serve` or `apsara worker`);"
                f" follow it with `apsara plugin job {r['jobId']} --wait`",
                highlight=False,
            )
            return
        console.print_json(json.dumps(r["result"]))
        console.print(
            f"[dim]tool message {r['toolMessageId']} in {r['conversationId']}[/]", highlight=False
        )
        if "modelResponse" in r:
            console.print(r["modelResponse"]["text"], highlight=False, markup=False)
        if "modelError" in r:
            console.print(f"[red]model error[/] {r['modelError']['message']}", highlight=False)

    emit(result, json_out=json_out, human=human)


def _show_job(j: dict[str, Any]) -> None:
    console.print(
        f"[bold]{j['jobId']}[/] {j['provider']}/{j['plugin']} — {j['status']} (attempt {j['attempt']})",
        highlight=False,
    )
    if j.get("result") is not None:
        console.print_json(json.dumps(j["result"]))
    if j.get("error"):
        console.print(
            f"[red]error[/] {j['error']['code']}: {j['error']['message']}", highlight=False
        )
    if (reply := j.get("modelResponse")) is not None:
        console.print(reply.get("text") or "", highlight=False, markup=False)


@app.command("job")
def job_cmd(
    job_id: JobArg,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until it has finished.")] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds --wait waits at most.")
    ] = 300.0,
    user: UserOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """One job: status, attempts, result or error (--wait: once it has finished)."""

    async def job(core: Any, me: Any) -> dict[str, Any]:
        if wait:
            return await core.jobs.wait(actor=me, job_id=job_id, timeout=timeout)
        return await core.jobs.get(actor=me, job_id=job_id)

    emit(run_as(job, user), json_out=json_out, human=_show_job)


@app.command("jobs")
def jobs_cmd(
    status: Annotated[
        str | None, typer.Option("--status", help="queued|running|succeeded|failed|cancelled")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many (1-500).")] = 50,
    user: UserOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Your jobs, newest first (--json: an array)."""

    async def job(core: Any, me: Any) -> list[dict[str, Any]]:
        return await core.jobs.list(actor=me, status=status, limit=limit)

    def human(jobs: list[dict[str, Any]]) -> None:
        table = Table("job", "plugin", "status", "attempt", "created")
        for j in jobs:
            created = j["createdAt"].strftime("%Y-%m-%d %H:%M:%S") if j.get("createdAt") else "-"
            table.add_row(
                j["jobId"],
                f"{j['provider']}/{j['plugin']}",
                j["status"],
                str(j["attempt"]),
                created,
            )
        console.print(table)

    emit(run_as(job, user), json_out=json_out, human=human)


@app.command()
def cancel(job_id: JobArg, user: UserOpt = None, json_out: JsonOpt = False) -> None:
    """Cancel a queued job, or stop a running one."""

    async def job(core: Any, me: Any) -> dict[str, Any]:
        return await core.jobs.cancel(actor=me, job_id=job_id)

    emit(run_as(job, user), json_out=json_out, human=_show_job)
