"""`apsara serve`: the HTTP API over the same core."""

from __future__ import annotations

from typing import Annotated

import typer

from apsara_core.errors import ConfigError
from apsara_tui.commands.runtime import err_console, fail, load_settings


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Port (default: PORT, 5000).")] = None,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Processes (they share every counter).")
    ] = 1,
    log_format: Annotated[
        str, typer.Option("--log-format", help="Access log: text or json.")
    ] = "text",
) -> None:
    """Serve the HTTP API (the original endpoints under /api) until interrupted."""
    import os

    import uvicorn

    from apsara_core.db.client import resolve_target
    from apsara_core.db.embedded import port_open

    settings = load_settings()
    port = port or settings.port
    if port_open(host if host != "0.0.0.0" else "127.0.0.1", port, timeout=0.3):
        fail(
            ConfigError(
                f"Port {port} on {host} is in use",
                field="--port",
                suggestions=["Pass --port N or set PORT to a free port"],
            )
        )
    if log_format not in ("text", "json"):
        fail(ConfigError("--log-format must be text or json", field="--log-format"))
    resolve_target(settings)  # start the embedded database once, before any worker opens it
    os.environ["APSARA_LOG_FORMAT"] = log_format  # read by every worker (serve_app)
    err_console.print(
        f"Apsara API on http://{host}:{port}/api (docs: /api/docs, /api/openapi.json; "
        f"{workers} worker{'s' if workers != 1 else ''})"
    )
    trusted = settings.trusted_proxy_list
    # uvicorn believes X-Forwarded-For from 127.0.0.1 unless told otherwise, which let any
    # local caller pick its own address: trust only APSARA_TRUSTED_PROXIES (default none).
    uvicorn.run(
        "apsara_core.http.app:serve_app",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level="warning",
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted,
    )
