"""`create_app(core)`: the Starlette app behind `apsara serve`, under /api."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route

from apsara_core.config import Settings
from apsara_core.core import Core, open_core
from apsara_core.http.deps import core_of, ok
from apsara_core.http.errors import HANDLERS, CatchAllMiddleware
from apsara_core.http.limiter import RequestLimitMiddleware

# Route modules under apsara_core/http/routes, each exposing ROUTES: list[Route].
ROUTE_MODULES: list[str] = ["users", "conversations", "ai", "files"]


async def health(request: Request) -> JSONResponse:
    """Liveness and the database it serves."""
    core = core_of(request)
    await core.db.command("ping")
    return ok(status="ok", database=core.target.label, schemaVersion=core.schema_version)


async def openapi(request: Request) -> JSONResponse:
    """An OpenAPI 3.1 description of every endpoint (summaries from the handlers' docstrings)."""
    paths: dict[str, dict[str, Any]] = {}
    for path, route in _walk(request.app.routes, ""):
        doc = (route.endpoint.__doc__ or "").strip().splitlines()
        for method in sorted((route.methods or set()) - {"HEAD"}):
            paths.setdefault(path, {})[method.lower()] = {
                "summary": doc[0] if doc else route.name,
                "operationId": f"{route.name}_{method.lower()}",
                **getattr(route.endpoint, "openapi", {}),
            }  # bodies and responses, where declared
    from apsara_core.http.openapi_files import ERROR_SCHEMA

    return JSONResponse(
        {
            "openapi": "3.1.0",
            "info": {"title": "Apsara API", "version": "0.1.0"},
            "paths": paths,
            "components": {"schemas": {"Error": ERROR_SCHEMA}},
        }
    )


def _walk(routes: list[BaseRoute], prefix: str) -> list[tuple[str, Route]]:
    found: list[tuple[str, Route]] = []
    for route in routes:
        if isinstance(route, Mount):
            found += _walk(list(route.routes), prefix + route.path)
        elif isinstance(route, Route):
            found.append((prefix + route.path, route))
    return found


def api_routes() -> list[BaseRoute]:
    """Health, OpenAPI and the routes of every route module."""
    routes: list[BaseRoute] = [
        Route("/health", health, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]
    for module in ROUTE_MODULES:
        routes += importlib.import_module(f"apsara_core.http.routes.{module}").ROUTES
    return routes


def create_app(core: Core | None = None, settings: Settings | None = None) -> Starlette:
    """The app over `core`, or over a Core it opens (and closes) in its own lifespan."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if core is not None:
            app.state.core = core
            yield
            return
        app.state.core = await open_core(settings)
        app.state.core.defer(app.state.core.warm_up(), "warming the AI providers")
        try:
            yield
        finally:
            await app.state.core.close()

    return Starlette(
        routes=[Mount("/api", routes=api_routes())],
        lifespan=lifespan,
        middleware=[Middleware(CatchAllMiddleware), Middleware(RequestLimitMiddleware)],
        exception_handlers=HANDLERS,
    )
