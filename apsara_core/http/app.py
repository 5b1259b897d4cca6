"""`create_app(core)`: the Starlette app behind `apsara serve`, under /api."""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from apsara_core import __version__
from apsara_core.config import Settings
from apsara_core.core import Core, open_core
from apsara_core.errors import ApsaraError, DatabaseUnavailableError
from apsara_core.http import responses
from apsara_core.http.access_log import AccessLogMiddleware, configure
from apsara_core.http.deps import authenticated, core_of, ok
from apsara_core.http.errors import HANDLERS, CatchAllMiddleware
from apsara_core.http.limiter import RequestLimitMiddleware
from apsara_core.http.openapi import document, operation
from apsara_core.http.openapi_files import documented, hidden

EXPOSED_HEADERS = (
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-Request-ID",
)
HEALTH_TIMEOUT_S = 3.0
HEALTH_DOC = operation(ok=responses.Health, public=True)
log = logging.getLogger("apsara.http")
# Route modules under apsara_core/http/routes, each exposing ROUTES: list[Route].
ROUTE_MODULES: list[str] = [
    "users",
    "conversations",
    "messages",
    "ai",
    "files",
    "plugins",
    "keys",
]


async def health(request: Request) -> JSONResponse:
    """Health: the database, the AI providers configured and the version (503 when the
    database is unreachable)."""
    core = core_of(request)
    try:
        await asyncio.wait_for(core.db.command("ping"), HEALTH_TIMEOUT_S)
    except Exception:
        log.warning("health: the database did not answer")
        raise DatabaseUnavailableError(
            "The database is unreachable", suggestions=["Check MONGODB_URI and the server"]
        ) from None
    return ok(
        status="ok",
        database={"status": "ok", "target": core.target.label},
        providers=configured_providers(core),
        version=__version__,
        schemaVersion=core.schema_version,
    )


def configured_providers(core: Core) -> list[str]:
    """Names of the AI providers that have what they need to answer (e.g. an API key)."""
    names = []
    for provider in core.providers.providers():
        try:
            provider.check_ready()
        except ApsaraError:
            continue
        names.append(provider.name)
    return names


async def openapi(request: Request) -> JSONResponse:
    """The OpenAPI 3.1 document of every endpoint."""
    spec = getattr(request.app.state, "openapi", None)
    if spec is None:
        spec = request.app.state.openapi = document(request.app)
    return JSONResponse(spec)


async def docs(request: Request) -> HTMLResponse:
    """Interactive API docs (Swagger UI, served from the installed package)."""
    return HTMLResponse(DOCS_PAGE)


DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Apsara API</title>
<link rel="stylesheet" href="/api/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/api/docs/assets/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/api/openapi.json", dom_id: "#swagger-ui"});</script>
</body></html>"""


def api_routes() -> list[BaseRoute]:
    """Health, OpenAPI and the routes of every route module."""
    routes: list[BaseRoute] = [
        Route("/health", documented(health, HEALTH_DOC), methods=["GET"]),
        Route("/openapi.json", hidden(openapi), methods=["GET"]),
        Route("/docs", hidden(docs), methods=["GET"]),
        Mount("/docs/assets", app=StaticFiles(directory=swagger_ui_static())),
    ]
    for module in ROUTE_MODULES:
        routes += [
            _guarded(route)
            for route in importlib.import_module(f"apsara_core.http.routes.{module}").ROUTES
        ]
    return routes


def _guarded(route: BaseRoute) -> BaseRoute:
    """A route whose OpenAPI operation needs a token checks it before its handler runs."""
    if not isinstance(route, Route) or getattr(route.endpoint, "openapi", {}).get("security") == []:
        return route
    return Route(
        route.path,
        authenticated(route.endpoint),
        methods=list(route.methods or ()),
        name=route.name,
    )


def create_app(core: Core | None = None, settings: Settings | None = None) -> Starlette:
    """The app over `core`, or over a Core it opens (and closes) in its own lifespan."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if core is not None:
            app.state.core = core
            yield
            return
        app.state.core = opened = await open_core(settings)
        opened.start_maintenance()
        opened.defer(opened.warm_up(), "warming the AI providers")
        worker = opened.worker() if opened.settings.inprocess_worker else None
        if worker is not None:  # APSARA_INPROCESS_WORKER=0 leaves jobs to `apsara worker`
            worker.start()
        try:
            yield
        finally:
            if worker is not None:
                await worker.stop()
            await opened.close()

    config = core.settings if core is not None else settings or Settings.load()
    return Starlette(
        routes=[
            Mount("/api", routes=api_routes()),
            Mount(
                "/v1", routes=importlib.import_module("apsara_core.http.routes.openai_v1").ROUTES
            ),
        ],
        lifespan=lifespan,
        middleware=[
            Middleware(AccessLogMiddleware),
            *cors_middleware(config),
            Middleware(RequestLimitMiddleware),
            Middleware(CatchAllMiddleware),
        ],
        exception_handlers=HANDLERS,
    )


def cors_middleware(settings: Settings) -> list[Middleware]:
    """Starlette's CORSMiddleware for APSARA_CORS_ORIGINS (none when the list is empty); it
    answers preflight requests and lets browsers read the limit and request-id headers."""
    origins = settings.cors_origin_list
    if not origins:
        return []
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_credentials=settings.cors_allow_credentials,
            allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "Accept", "X-Request-ID"],
            expose_headers=[*EXPOSED_HEADERS],
            max_age=600,
        )
    ]


def swagger_ui_static() -> str:
    """The Swagger UI assets shipped inside the swagger-ui-py package (no CDN needed)."""
    import swagger_ui

    return str(Path(swagger_ui.__file__).parent / "static")


def serve_app() -> Starlette:
    """The app as `apsara serve` runs it in each worker process (uvicorn's factory): the
    access log configured from APSARA_LOG_FORMAT, settings from the environment."""
    configure(os.environ.get("APSARA_LOG_FORMAT", "text"))
    return create_app(settings=Settings.load())
