"""Added latency of `core.chat.generate` over a direct SDK streaming call, per declared
provider kind (openai, anthropic), each against its fake in a process of its own, alternating
in one run. The Gemini goal of issue 16 item 5 applies to each: the added latency p50 at most
2 bare journaled appends on the same server, measured alternately. The same core path over
Gemini is measured alongside, so a miss can be told apart: the provider layer (ratio to Gemini's core
generate, goal <= 1.2x) or the core's database steps shared by every provider."""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anthropic
import openai
from pymongo import WriteConcern

from apsara_core.core import Core, open_core
from apsara_core.db.embedded import free_port, spawn, wait_ready
from apsara_core.models import Principal
from tests.benchmarks.bench_chat import _settings, _timed
from tests.benchmarks.report import Result
from tests.factories import create_user, principal_of
from tests.fakes.gemini_process import fake_gemini_process
from tests.fakes.provider_process import fake_providers_process

RUNS = 150
GEMINI = "gemini-2.5-flash"
KEY_ENV = "APSARA_BENCH_PROVIDER_KEY"
TEXT = "hello bench"


def _direct(kind: str, url: str) -> Callable[[], Awaitable[None]]:
    """One streaming call through the bare SDK, as the provider makes it."""
    if kind == "openai":
        oai = openai.AsyncOpenAI(base_url=url, api_key="bench", max_retries=0)

        async def call_openai() -> None:
            stream = await oai.chat.completions.create(
                model="gpt-fake",
                messages=[{"role": "user", "content": TEXT}],
                stream=True,
                stream_options={"include_usage": True},
            )
            async for _ in stream:
                pass

        return call_openai
    ant = anthropic.AsyncAnthropic(base_url=url, api_key="bench", max_retries=0)

    async def call_anthropic() -> None:
        stream = await ant.messages.create(
            model="haiku",
            max_tokens=8192,
            messages=[{"role": "user", "content": TEXT}],
            stream=True,
        )
        async for _ in stream:
            pass

    return call_anthropic


async def bench_kind(
    core: Core, actor: Principal, kind: str, url: str
) -> tuple[list[Result], Callable[[], Awaitable[Any]]]:
    """Core generate vs the direct SDK call for one kind, alternating; also the core call."""
    name, model = ("oai", "oai/gpt-fake") if kind == "openai" else ("claude", "claude/haiku")
    op = Principal.operator()
    await core.provider_catalog.add(
        actor=op,
        name=name,
        kind=kind,
        base_url=url,
        api_key_env=KEY_ENV,
        api_key_file=None,
        models=[model.split("/", 1)[1]],
    )
    await core.plans.set_limit(actor=op, plan="premium", model=model, daily=100_000)
    convs = [
        (await core.conversations.create(actor=actor, title="bench"))["conversationId"]
        for _ in range(RUNS + RUNS // 2 + 1)  # the Gemini comparison makes RUNS // 2 more
    ]

    async def core_call() -> Any:
        return await core.chat.generate(
            actor=actor, conversation_id=convs.pop(), text=TEXT, model=model
        )

    direct = _direct(kind, url)
    bare = core.db.get_collection("bench_append", write_concern=WriteConcern("majority", j=True))
    await direct()
    await core_call()
    sdk, full, append = [], [], []
    for _ in range(RUNS):
        append += await _timed(lambda: bare.insert_one({"text": "x" * 200}), 1)
        sdk += await _timed(direct, 1, core)
        full += await _timed(core_call, 1, core)
    p50 = statistics.median(full) - statistics.median(sdk)
    a = statistics.median(append)
    return [
        Result(f"providers {kind}: direct SDK streaming call, p50", statistics.median(sdk), "ms"),
        Result(f"providers {kind}: core generate, p50", statistics.median(full), "ms"),
        Result(f"providers {kind}: bare journaled append (insert_one, w majority, j)", a, "ms"),
        Result(
            f"providers {kind}: added latency p50, in appends (issue 16 item 5)",
            p50,
            "ms",
            ratio=p50 / a,
            goal=2.0,
        ),
    ], core_call


async def _main(mongo_uri: str, urls: tuple[str, str, str], data_dir: Path) -> list[Result]:
    os.environ[KEY_ENV] = "bench"
    core = await open_core(_settings(mongo_uri, urls[2], data_dir))
    try:
        actor = principal_of(await create_user(core, "bench@example.com", plan="premium"))
        op = Principal.operator()
        await core.plans.set_limit(actor=op, plan="premium", model=GEMINI, daily=100_000)
        results, openai_call = await bench_kind(core, actor, "openai", urls[0])
        more, anthropic_call = await bench_kind(core, actor, "anthropic", urls[1])
        results += more
        convs = [
            (await core.conversations.create(actor=actor, title="g"))["conversationId"]
            for _ in range(3 * RUNS // 2)
        ]

        async def gemini_call() -> Any:
            return await core.chat.generate(actor=actor, conversation_id=convs.pop(), text=TEXT)

        await gemini_call()
        for kind, call in (("openai", openai_call), ("anthropic", anthropic_call)):
            ours, gem = [], []
            for _ in range(RUNS // 2):
                gem += await _timed(gemini_call, 1, core)
                ours += await _timed(call, 1, core)
            ratio = statistics.median(ours) / statistics.median(gem)
            results.append(
                Result(
                    f"providers {kind}: core generate / Gemini core generate, p50",
                    statistics.median(ours),
                    "ms",
                    ratio=ratio,
                    goal=1.2,
                )
            )
        return results
    finally:
        await core.client.drop_database(core.db.name)
        await core.close()


def run() -> list[Result]:
    """Start the embedded server and the fakes (own process), then measure each kind."""
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        log = Path(tmp) / "server.log"
        proc = spawn(":memory:", port, log, detach=False)
        try:
            wait_ready(proc, port, log)
            with fake_providers_process() as urls, fake_gemini_process() as gemini:
                return asyncio.run(
                    _main(
                        f"mongodb://127.0.0.1:{port}/bench_providers",
                        (*urls, gemini),
                        Path(tmp) / "data",
                    )
                )
        finally:
            proc.terminate()
            proc.wait(10)
