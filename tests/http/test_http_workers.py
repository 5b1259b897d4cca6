"""Two `apsara serve` processes on one database: quotas and the request limiter stay exact
across them (issue 16 item 7; `apsara worker` jobs are out of scope here)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from apsara_core.core import Core
from apsara_core.models import Principal
from tests.conftest import apsara_env
from tests.fakes.fixtures import gemini_env
from tests.fakes.gemini_server import FakeGemini
from tests.http.served import serve

OPERATOR = Principal.operator()
PASSWORD = "Two-workers-1234"
LIMIT, QUOTA, SENDS, FLOOD = 30, 3, 8, 40


# Slow (~20-45 s: two server starts and a flood). The default run keeps what it checks in
# cheaper forms: tests/core/test_limits.py::test_four_processes_share_exact_totals (quota
# exact across processes) and tests/cli/test_serve_workers.py (one request counter shared by
# two serve workers).
@pytest.mark.slow
async def test_quota_and_limiter_are_exact_across_two_servers(
    core: Core, mongo_uri: str, fake_gemini: FakeGemini, tmp_path: Path
) -> None:
    await core.users.create(
        actor=OPERATOR, email="w@example.com", full_name="W", password=PASSWORD, verified=True
    )
    await core.plans.set_limit(actor=OPERATOR, plan="free", model="gemini-2.5-flash", daily=QUOTA)
    env = {
        **apsara_env(mongo_uri, tmp_path),
        **gemini_env(fake_gemini),
        "RATE_LIMIT_MAX_REQUESTS": str(LIMIT),
    }
    with ExitStack() as stack:
        urls = []
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            urls.append(stack.enter_context(serve(env, tmp_path / name)).url)
        login = httpx.post(
            f"{urls[0]}/api/users/login", json={"email": "w@example.com", "password": PASSWORD}
        )
        assert login.status_code == 200, login.text
        auth = {"Authorization": f"Bearer {login.json()['token']}"}
        made = httpx.post(f"{urls[1]}/api/conversations", headers=auth, json={"title": "t"})
        assert made.status_code in (200, 201), made.text
        body = {"conversationId": made.json()["conversationId"], "contents": "hi"}

        def send(i: int) -> int:
            url = f"{urls[i % 2]}/api/ai/generate"
            return httpx.post(url, headers=auth, json=body, timeout=30).status_code

        with ThreadPoolExecutor(SENDS) as pool:
            sent = list(pool.map(send, range(SENDS)))
        assert sorted(sent) == [200] * QUOTA + [429] * (SENDS - QUOTA)

        def me(i: int) -> int:
            return httpx.get(f"{urls[i % 2]}/api/users/me", headers=auth, timeout=30).status_code

        with ThreadPoolExecutor(8) as pool:
            flood = list(pool.map(me, range(FLOOD)))
    used = 2 + SENDS  # login, create, the sends
    assert flood.count(200) == LIMIT - used and flood.count(429) == FLOOD - (LIMIT - used)
