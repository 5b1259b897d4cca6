"""A real `apsara serve` answering the real `openai` SDK over real HTTP, streaming included."""

from __future__ import annotations

from pathlib import Path

import httpx
import openai
import pytest

from tests.conftest import apsara_env, run_cli
from tests.fakes.provider_fixtures import OPENAI_KEY_ENV
from tests.http.served import serve


@pytest.mark.slow  # ~17 s on a loaded machine (two CLI runs and a server start); in-process
# the same is covered by test_openai_endpoint.py
def test_served_v1_streams_to_the_openai_sdk(mongo_uri: str, tmp_path: Path, fake_openai) -> None:
    env = apsara_env(mongo_uri, tmp_path, RATE_LIMIT_MAX_REQUESTS="100000", **{OPENAI_KEY_ENV: "k"})
    for args in (
        (
            "provider",
            "add",
            "oai",
            "--kind",
            "openai",
            "--base-url",
            fake_openai.base_url,
            "--api-key-env",
            OPENAI_KEY_ENV,
            "--model",
            "deep-think,thinks",
        ),
        ("plan", "set", "guest", "--model", "oai/deep-think", "--total", "3"),
    ):
        done = run_cli(*args, env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    with serve(env, tmp_path) as server:
        login = httpx.post(f"{server.url}/api/users/guest-login", json={"clientKey": "sdk-test"})
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=login.json()["token"])
        assert "oai/deep-think" in {m.id for m in client.models.list()}
        stream = client.chat.completions.create(
            model="oai/deep-think",
            messages=[{"role": "user", "content": "over the wire"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        thoughts = "".join(
            getattr(c.choices[0].delta, "reasoning_content", None) or ""
            for c in chunks
            if c.choices
        )
        assert (
            text == "Echo: over the wire (turns=1)" and thoughts == "Thinking about: over the wire"
        )
        assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens > 0
        whole = client.chat.completions.create(
            model="oai/deep-think", messages=[{"role": "user", "content": "again"}]
        )
        assert whole.choices[0].message.content == "Echo: again (turns=1)"
