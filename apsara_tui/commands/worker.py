"""`apsara worker`: run plugin jobs from the database until interrupted."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from apsara_tui.commands.runtime import err_console, run


def worker(
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            "-n",
            min=1,
            max=256,
            help="Jobs at once (default: APSARA_WORKER_CONCURRENCY, 4).",
        ),
    ] = None,
) -> None:
    """Run plugin jobs (any number of workers, on any machine that reaches the database)."""
    import asyncio
    import signal

    async def job(core: Any) -> None:
        core.start_maintenance()
        w = core.worker(concurrency=concurrency)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, lambda: loop.create_task(w.stop()))
        err_console.print(
            f"apsara worker {w.owner}: {w.concurrency} at a time, lease {w.lease_s:g} s"
        )
        await w.run()

    run(job)
