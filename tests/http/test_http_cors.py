"""CORS from APSARA_CORS_ORIGINS: none by default, preflight answered for listed origins,
`*` refused together with credentials."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from apsara_core.config import Settings
from apsara_core.core import Core
from apsara_core.errors import ConfigError
from apsara_core.http.app import create_app

ORIGIN = "https://app.example.com"
PREFLIGHT = {
    "Origin": ORIGIN,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


async def _client(core: Core, origins: str) -> AsyncIterator[httpx.AsyncClient]:
    core.settings = core.settings.model_copy(update={"cors_origins": origins})
    app = create_app(core)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://apsara.test") as c:
            yield c


async def test_no_cors_by_default(core: Core) -> None:
    async for client in _client(core, ""):
        resp = await client.options("/api/ai/generate", headers=PREFLIGHT)
        # a plain answer to OPTIONS, without any CORS grant
        assert resp.status_code == 204 and "access-control-allow-origin" not in resp.headers
        assert "OPTIONS" in resp.headers["allow"] and "POST" in resp.headers["allow"]


async def test_listed_origins_get_preflight_and_exposed_headers(core: Core) -> None:
    async for client in _client(core, f"{ORIGIN}, https://other.example.com"):
        resp = await client.options("/api/ai/generate", headers=PREFLIGHT)
        assert resp.status_code == 200
        assert resp.headers["access-control-allow-origin"] == ORIGIN
        assert "POST" in resp.headers["access-control-allow-methods"]
        assert "authorization" in resp.headers["access-control-allow-headers"].lower()
        simple = await client.get("/api/users/me", headers={"Origin": ORIGIN})
        assert simple.status_code == 401
        assert simple.headers["access-control-allow-origin"] == ORIGIN
        assert "X-RateLimit-Remaining" in simple.headers["access-control-expose-headers"]
        foreign = await client.get("/api/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in foreign.headers


def test_star_with_credentials_is_a_clear_settings_error() -> None:
    with pytest.raises(ConfigError, match="APSARA_CORS_ORIGINS=\\* cannot be used"):
        Settings.load(APSARA_CORS_ORIGINS="*", APSARA_CORS_ALLOW_CREDENTIALS="true")
    with pytest.raises(ConfigError, match="not an origin"):
        Settings.load(APSARA_CORS_ORIGINS="app.example.com/path")
    assert Settings.load(APSARA_CORS_ORIGINS="*").cors_origin_list == ["*"]
