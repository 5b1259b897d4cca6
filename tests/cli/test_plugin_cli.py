"""`apsara plugin ...`: list, show, call (sync, async, with the model), job --wait, jobs, cancel;
the --json contract scripts rely on."""

from __future__ import annotations

import asyncio
import json

from tests.factories import create_user
from tests.fakes.fixtures import gemini_env

ANN = ("--user", "ann@example.com")


def ok(result):
    assert result.returncode == 0, result.stderr
    return result


def as_json(result):
    return json.loads(ok(result).stdout)


async def test_list_and_show(core, cli):
    listed = as_json(cli("plugin", "list", "--json"))
    calc = next(p for p in listed if (p["provider"], p["name"]) == ("google", "calculator"))
    assert calc["description"] and calc["parameters"]["required"] == [
        "number1",
        "number2",
        "operation",
    ]
    assert as_json(cli("plugin", "list", "--provider", "google", "--json")) == listed
    human = ok(cli("plugin", "list")).stdout
    assert "google/calculator" in human and "google/echo" in human
    shown = as_json(cli("plugin", "show", "google/echo", "--json"))
    assert shown["parameters"]["properties"]["message"]["type"] == "string"
    bad = cli("plugin", "show", "google/abacus")
    assert bad.returncode == 1 and "calculator, echo" in bad.stderr


async def test_sync_call_json_contract(core, cli, fake_gemini):
    await create_user(core, "ann@example.com", plan="premium")
    out = as_json(
        cli(
            "plugin",
            "call",
            "google/calculator",
            "-p",
            "number1=15",
            "-p",
            "number2=7",
            "-p",
            "operation=multiply",
            *ANN,
            "--json",
        )
    )
    assert out["success"] is True and out["result"]["result"] == 105 and out["toolMessageId"]
    assert "modelResponse" not in out
    with_model = as_json(
        cli(
            "plugin",
            "call",
            "google/echo",
            "-p",
            "message=hi",
            "--conversation",
            out["conversationId"],
            "--send-to-model",
            *ANN,
            "--json",
            **gemini_env(fake_gemini),
        )
    )
    assert with_model["result"] == {"message": "hi"}
    assert with_model["modelResponse"]["text"].startswith("Echo: [tool result] google/echo")
    msgs = as_json(cli("conv", "messages", out["conversationId"], "--json"))
    assert [m["role"] for m in msgs] == ["tool", "tool", "model"]


async def test_bad_parameters_exit_1_naming_the_field(core, cli):
    await create_user(core, "ann@example.com")
    res = cli("plugin", "call", "google/calculator", "-p", "number1=1", *ANN)
    assert res.returncode == 1 and "parameters.number2" in res.stderr
    res = cli(
        "plugin",
        "call",
        "google/calculator",
        "-p",
        "number1=1",
        "-p",
        "number2=0",
        "-p",
        "operation=modulo",
        *ANN,
    )
    assert res.returncode == 1 and "Modulo by zero" in res.stderr
    res = cli("plugin", "call", "calculator", *ANN)
    assert res.returncode == 2 and "PROVIDER/NAME" in res.stderr


async def test_async_call_job_wait_jobs_cancel(core, cli):
    await create_user(core, "ann@example.com")
    args = (
        "plugin",
        "call",
        "google/calculator",
        "-p",
        "number1=2",
        "-p",
        "number2=10",
        "-p",
        "operation=power",
        "--async",
        *ANN,
        "--json",
    )
    queued = as_json(cli(*args, "--idempotency-key", "once"))
    assert set(queued) >= {"success", "jobId", "status"} and queued["status"] == "queued"
    assert as_json(cli(*args, "--idempotency-key", "once"))["jobId"] == queued["jobId"]
    other = as_json(cli(*args))
    assert (
        as_json(cli("plugin", "jobs", "--status", "queued", *ANN, "--json"))[0]["jobId"]
        == other["jobId"]
    )
    cancelled = as_json(cli("plugin", "cancel", other["jobId"], *ANN, "--json"))
    assert cancelled["status"] == "cancelled"
    worker = core.worker(concurrency=1, lease_s=3.0, poll_s=0.1)
    worker.start()
    try:
        job = as_json(
            await asyncio.to_thread(cli, "plugin", "job", queued["jobId"], "--wait", *ANN, "--json")
        )
    finally:
        await worker.stop()
    assert job["status"] == "succeeded" and job["result"]["result"] == 1024
    assert as_json(cli("plugin", "job", other["jobId"], *ANN, "--json"))["status"] == "cancelled"
