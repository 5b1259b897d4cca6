"""HTTP tests call the Starlette app in-process through httpx's ASGI transport, or a real
`apsara serve` (`served`) when connections and server memory matter."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from uuid import uuid4

import httpx
import pytest

from apsara_core.core import Core
from apsara_core.http.app import create_app
from tests.conftest import apsara_env
from tests.fakes.fixtures import gemini_env
from tests.http.served import Served, serve


async def _client(core: Core) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(core)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://apsara.test") as client:
            yield client


@pytest.fixture
async def http(core: Core) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client over the app built on the test's Core."""
    async for client in _client(core):
        yield client


@pytest.fixture
async def api(chat_core: Core) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client over the app built on a Core that talks to the fake Gemini."""
    async for client in _client(chat_core):
        yield client


@pytest.fixture(scope="module")
def served(mongo_port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A real `apsara serve` shared by a module's tests, on a database of its own (request
    limit raised out of the way). Starting one takes seconds on a loaded machine."""
    root = tmp_path_factory.mktemp("serve")
    env = apsara_env(
        f"mongodb://127.0.0.1:{mongo_port}/t_{uuid4().hex[:16]}",
        root,
        RATE_LIMIT_MAX_REQUESTS="100000",
    )
    with serve(env, root) as running:
        yield running


@pytest.fixture(scope="session")
def live_uri(mongo_port: int) -> str:
    """The database of the `live` server (tests read the mail outbox there)."""
    return f"mongodb://127.0.0.1:{mongo_port}/t_{uuid4().hex[:16]}"


@pytest.fixture(scope="session")
def live(
    live_uri: str, tmp_path_factory: pytest.TempPathFactory, fake_gemini_server
) -> Iterator[Served]:
    """A real `apsara serve` talking to the fake Gemini, shared by the contract and curl
    modules (one start instead of two): limits raised out of the way, each test on users of
    its own."""
    root = tmp_path_factory.mktemp("live")
    env = apsara_env(
        live_uri,
        root,
        RATE_LIMIT_MAX_REQUESTS="1000000",
        APSARA_GUEST_ACCOUNTS_PER_ADDRESS_PER_DAY="100000",
        **gemini_env(fake_gemini_server),
    )
    with serve(env, root) as running:
        yield running
