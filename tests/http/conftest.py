"""HTTP tests call the Starlette app in-process through httpx's ASGI transport."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from apsara_core.core import Core
from apsara_core.http.app import create_app


@pytest.fixture
async def http(core: Core) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client over the app built on the test's Core."""
    app = create_app(core)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://apsara.test") as client:
            yield client
