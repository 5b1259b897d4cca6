"""Drives the fake Gemini server with the real google-genai SDK (sync and async)."""

from __future__ import annotations

import base64
import io
import json
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from google import genai
from google.genai import errors, types

from tests.fakes.gemini_server import FakeGemini

MODEL = "gemini-2.5-flash"
EMBED_MODEL = "gemini-embedding-001"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGemini]:
    with FakeGemini() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh(fake: FakeGemini) -> None:
    fake.reset()


@pytest.fixture(scope="module")
def client(fake: FakeGemini) -> genai.Client:
    return genai.Client(api_key="k", http_options=types.HttpOptions(base_url=fake.base_url))


def hdrs(timeout: int | None = None, **headers: str) -> types.GenerateContentConfig:
    """Per-call headers (underscores become dashes), e.g. hdrs(x_fake_fault="429")."""
    return types.GenerateContentConfig(
        http_options=types.HttpOptions(
            headers={k.replace("_", "-"): v for k, v in headers.items()}, timeout=timeout
        )
    )


def fault(name: str, timeout: int | None = None) -> types.GenerateContentConfig:
    return hdrs(timeout=timeout, x_fake_fault=name)


def texts(chunks: list[types.GenerateContentResponse]) -> list[str]:
    """Non-thought text deltas, one entry per chunk that carries text."""
    out = []
    for ch in chunks:
        parts = ch.candidates[0].content.parts if ch.candidates and ch.candidates[0].content else []
        t = "".join(p.text for p in parts or [] if p.text and not p.thought)
        if t:
            out.append(t)
    return out


def gen_calls(fake: FakeGemini) -> list[dict[str, Any]]:
    return [r for r in fake.requests if r["model"]]


# --------------------------------------------------------------------------- answers


def test_generate_plain(client: genai.Client, fake: FakeGemini) -> None:
    r = client.models.generate_content(model=MODEL, contents="hello there world")
    assert r.text == "Echo: hello there world (turns=1)"
    u = r.usage_metadata
    assert (u.prompt_token_count, u.candidates_token_count, u.total_token_count) == (3, 5, 8)
    assert not u.thoughts_token_count
    assert r.model_version == MODEL and r.response_id
    assert r.candidates[0].finish_reason == types.FinishReason.STOP
    (req,) = fake.requests
    assert req["method"] == "POST" and req["model"] == MODEL
    assert req["path"].endswith(f"/models/{MODEL}:generateContent")
    assert req["body"]["contents"][0]["parts"][0]["text"] == "hello there world"
    assert req["headers"]["x-goog-api-key"] == "k"


@pytest.mark.asyncio
async def test_stream_with_thoughts(client: genai.Client) -> None:
    cfg = types.GenerateContentConfig(
        thinking_config=types.ThinkingConfig(include_thoughts=True, thinking_budget=1024)
    )
    chunks = [
        c
        async for c in await client.aio.models.generate_content_stream(
            model=MODEL, contents="why is the sky blue", config=cfg
        )
    ]
    first_parts = chunks[0].candidates[0].content.parts
    assert first_parts[0].thought and first_parts[0].text.startswith("Thinking about:")
    thought = "".join(p.text for c in chunks for p in c.candidates[0].content.parts if p.thought)
    assert thought == "Thinking about: why is the sky blue"
    full = "Echo: why is the sky blue (turns=1)"
    assert "".join(texts(chunks)) == full
    assert len(texts(chunks)) == 5
    reasons = [c.candidates[0].finish_reason for c in chunks]
    assert reasons[-1] == types.FinishReason.STOP and not any(reasons[:-1])
    last = chunks[-1].usage_metadata
    assert last.thoughts_token_count == 7 and last.candidates_token_count == 7
    assert last.total_token_count == 5 + 7 + 7
    totals = [c.usage_metadata.total_token_count for c in chunks]
    assert totals == sorted(totals)


def test_sync_stream_matches_generate(client: genai.Client) -> None:
    whole = client.models.generate_content(model=MODEL, contents="a b c d e f g h").text
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="a b c d e f g h"))
    assert "".join(texts(chunks)) == whole
    assert all(c.response_id == chunks[0].response_id for c in chunks)


def test_history_and_system_instruction(client: genai.Client) -> None:
    system = "You are a very terse assistant that answers in haiku only."
    contents = [
        types.Content(role="user", parts=[types.Part(text="first question")]),
        types.Content(role="model", parts=[types.Part(text="first answer")]),
        types.Content(role="user", parts=[types.Part(text="second question")]),
    ]
    r = client.models.generate_content(
        model=MODEL,
        contents=contents,
        config=types.GenerateContentConfig(system_instruction=system),
    )
    assert r.text == f"[sys:{system[:40]}] Echo: second question (turns=3)"
    assert r.usage_metadata.prompt_token_count == 6 + len(system.split())


def test_chat_session_counts_turns(client: genai.Client) -> None:
    chat = client.chats.create(model=MODEL)
    assert chat.send_message("one").text == "Echo: one (turns=1)"
    assert chat.send_message("two").text == "Echo: two (turns=3)"


@pytest.mark.parametrize("n", [1, 3, 7, 12])
def test_chunk_count_header(client: genai.Client, n: int) -> None:
    chunks = list(
        client.models.generate_content_stream(
            model=MODEL, contents="hi", config=hdrs(x_fake_chunks=str(n))
        )
    )
    parts = texts(chunks)
    assert len(parts) == n == len(chunks)
    joined = "".join(parts)
    assert joined.startswith("Echo: hi (turns=1)")
    if n > 3:  # the reply has 3 words: padded with generated words
        assert joined.endswith(f"w{n - 3}")
    assert chunks[-1].usage_metadata.candidates_token_count == len(joined.split())


def test_chunk_delay_header(client: genai.Client) -> None:
    t0 = time.perf_counter()
    chunks = list(
        client.models.generate_content_stream(
            model=MODEL,
            contents="a b c",
            config=hdrs(x_fake_chunks="3", x_fake_chunk_delay_ms="60"),
        )
    )
    assert len(chunks) == 3 and time.perf_counter() - t0 >= 0.12


def test_function_call_round_trip(client: genai.Client, fake: FakeGemini) -> None:
    tool = types.Tool(
        function_declarations=[
            types.FunctionDeclaration(
                name="calculator",
                description="adds",
                parameters_json_schema={"type": "object", "properties": {"a": {"type": "integer"}}},
            )
        ]
    )
    cfg = types.GenerateContentConfig(tools=[tool])
    user = types.Content(
        role="user", parts=[types.Part(text='add CALL:calculator({"a": 1, "b": 2})')]
    )
    r = client.models.generate_content(model=MODEL, contents=[user], config=cfg)
    (call,) = r.function_calls
    assert (call.id, call.name, call.args) == ("fc_1", "calculator", {"a": 1, "b": 2})
    part = r.candidates[0].content.parts[0]
    assert part.thought_signature and part.thought_signature.startswith(b"sig:calculator")
    assert r.candidates[0].finish_reason == types.FinishReason.STOP and r.text is None

    reply = types.Content(
        role="user",
        parts=[types.Part.from_function_response(name="calculator", response={"result": 3})],
    )
    r2 = client.models.generate_content(
        model=MODEL, contents=[user, r.candidates[0].content, reply], config=cfg
    )
    assert r2.text == 'Echo: calculator -> {"result": 3} (turns=3)'
    sent = fake.requests[-1]["body"]["contents"][1]["parts"][0]
    assert base64.urlsafe_b64decode(sent["thoughtSignature"]).startswith(b"sig:calculator")


def test_function_call_streaming(client: genai.Client) -> None:
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="CALL:ping({})"))
    assert chunks[-1].function_calls[0].name == "ping"
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP


def test_embeddings(client: genai.Client, fake: FakeGemini) -> None:
    cfg = types.EmbedContentConfig(output_dimensionality=4)
    r = client.models.embed_content(model=EMBED_MODEL, contents=["alpha", "beta"], config=cfg)
    a, b = (e.values for e in r.embeddings)
    assert len(a) == len(b) == 4 and a != b
    assert math.isclose(sum(v * v for v in a), 1.0, abs_tol=1e-4)
    again = client.models.embed_content(model=EMBED_MODEL, contents="alpha", config=cfg)
    assert again.embeddings[0].values == a
    default = client.models.embed_content(model="text-embedding-004", contents="alpha")
    assert len(default.embeddings[0].values) == 8
    assert fake.requests[0]["path"].endswith(":batchEmbedContents")


def test_count_tokens(client: genai.Client) -> None:
    assert client.models.count_tokens(model=MODEL, contents="one two three").total_tokens == 3


# --------------------------------------------------------------------------- files


def test_files_upload_get_list_delete(
    client: genai.Client, fake: FakeGemini, tmp_path: Path
) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"hello file")
    f1 = client.files.upload(
        file=str(path), config={"mime_type": "text/plain", "display_name": "notes"}
    )
    f2 = client.files.upload(file=io.BytesIO(b"\x00\x01\x02"), config={"mime_type": "image/png"})
    assert f1.name.startswith("files/") and f1.name[6:].isalnum() and f1.name[6:].islower()
    assert (f1.display_name, f1.mime_type, f1.size_bytes) == ("notes", "text/plain", 10)
    assert f1.state == types.FileState.ACTIVE and f1.uri.startswith(fake.base_url)
    assert f1.expiration_time - f1.create_time == __import__("datetime").timedelta(hours=48)
    assert client.files.get(name=f1.name).size_bytes == 10
    assert [f.name for f in client.files.list(config={"page_size": 1})] == [f1.name, f2.name]

    r = client.models.generate_content(
        model=MODEL,
        contents=[types.Part.from_uri(file_uri=f1.uri, mime_type=f1.mime_type), "describe"],
    )
    assert r.text == "Echo: describe (turns=1)"

    client.files.delete(name=f1.name)
    with pytest.raises(errors.ClientError) as exc:
        client.files.get(name=f1.name)
    assert exc.value.code == 403
    with pytest.raises(errors.ClientError) as exc:
        client.models.generate_content(
            model=MODEL,
            contents=[types.Part.from_uri(file_uri=f1.uri, mime_type="text/plain"), "describe"],
        )
    assert (exc.value.code, exc.value.status) == (403, "PERMISSION_DENIED")
    assert [f.name for f in client.files.list()] == [f2.name]


def test_video_processing_then_active(client: genai.Client) -> None:
    v = client.files.upload(file=io.BytesIO(b"fakevideo" * 10), config={"mime_type": "video/mp4"})
    assert v.state == types.FileState.PROCESSING
    part = types.Part.from_uri(file_uri=v.uri, mime_type="video/mp4")
    with pytest.raises(errors.ClientError) as exc:
        client.models.generate_content(model=MODEL, contents=[part, "what happens"])
    assert (exc.value.code, exc.value.status) == (400, "FAILED_PRECONDITION")
    states = [client.files.get(name=v.name).state for _ in range(3)]
    assert states == [
        types.FileState.PROCESSING,
        types.FileState.PROCESSING,
        types.FileState.ACTIVE,
    ]
    assert client.models.generate_content(model=MODEL, contents=[part, "go"]).text


@pytest.mark.asyncio
async def test_async_upload(client: genai.Client) -> None:
    f = await client.aio.files.upload(file=io.BytesIO(b"abc"), config={"mime_type": "text/plain"})
    assert (await client.aio.files.get(name=f.name)).size_bytes == 3
    await client.aio.files.delete(name=f.name)


# --------------------------------------------------------------------------- auth, models


def test_missing_api_key_is_rejected(fake: FakeGemini) -> None:
    url = f"{fake.base_url}/v1beta/models/{MODEL}:generateContent"
    body = {"contents": [{"role": "user", "parts": [{"text": "x"}]}]}
    r = httpx.post(url, json=body)
    assert r.status_code == 403
    assert r.json()["error"]["status"] == "PERMISSION_DENIED" and r.json()["error"]["code"] == 403
    assert httpx.post(url, json=body, params={"key": "k"}).json()["candidates"]
    assert httpx.get(f"{fake.base_url}/v1/files").status_code == 403


def test_unknown_model_is_404(client: genai.Client) -> None:
    with pytest.raises(errors.ClientError) as exc:
        client.models.generate_content(model="gemini-missing", contents="x")
    assert (exc.value.code, exc.value.status) == (404, "NOT_FOUND")
    with pytest.raises(errors.ClientError):
        client.models.generate_content(model="gpt-4", contents="x")


# --------------------------------------------------------------------------- faults


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("code", "status", "exc_type"),
    [
        (429, "RESOURCE_EXHAUSTED", errors.ClientError),
        (500, "INTERNAL", errors.ServerError),
        (503, "UNAVAILABLE", errors.ServerError),
        (400, "INVALID_ARGUMENT", errors.ClientError),
        (403, "PERMISSION_DENIED", errors.ClientError),
        (404, "NOT_FOUND", errors.ClientError),
    ],
)
def test_status_faults(
    client: genai.Client, code: int, status: str, exc_type: type, stream: bool
) -> None:
    with pytest.raises(exc_type) as exc:
        if stream:
            list(
                client.models.generate_content_stream(
                    model=MODEL, contents="x", config=fault(str(code))
                )
            )
        else:
            client.models.generate_content(model=MODEL, contents="x", config=fault(str(code)))
    assert (exc.value.code, exc.value.status) == (code, status)


def test_flaky_then_ok(client: genai.Client) -> None:
    for _ in range(2):
        with pytest.raises(errors.ServerError):
            client.models.generate_content(model=MODEL, contents="x", config=fault("flaky:2"))
    assert client.models.generate_content(model=MODEL, contents="x", config=fault("flaky:2")).text


def test_flaky_with_sdk_retries(client: genai.Client, fake: FakeGemini) -> None:
    retry = types.HttpRetryOptions(attempts=3, initial_delay=0.01, max_delay=0.02, jitter=0)
    cfg = types.GenerateContentConfig(
        http_options=types.HttpOptions(
            headers={"x-fake-fault": "flaky:2:retry"}, retry_options=retry
        )
    )
    assert client.models.generate_content(model=MODEL, contents="x", config=cfg).text
    assert len(gen_calls(fake)) == 3


def test_script_queue(client: genai.Client, fake: FakeGemini) -> None:
    fake.script("503", "ok", "429")
    with pytest.raises(errors.ServerError):
        client.models.generate_content(model=MODEL, contents="x")
    assert client.models.generate_content(model=MODEL, contents="x", config=fault("500")).text
    with pytest.raises(errors.ClientError):
        client.models.embed_content(model=EMBED_MODEL, contents="x")
    assert client.models.embed_content(model=EMBED_MODEL, contents="x").embeddings
    fake.script("503")
    fake.reset()
    assert client.models.generate_content(model=MODEL, contents="x").text
    assert len(fake.requests) == 1


def test_cut_raises_transport_error(client: genai.Client) -> None:
    got: list[str] = []
    with pytest.raises(httpx2.RemoteProtocolError):
        for ch in client.models.generate_content_stream(
            model=MODEL, contents="a b c d e f g", config=fault("cut:2")
        ):
            got.extend(texts([ch]))
    assert len(got) == 2
    with pytest.raises(httpx2.RemoteProtocolError):
        client.models.generate_content(model=MODEL, contents="x", config=fault("cut:0"))
    assert client.models.generate_content(model=MODEL, contents="after").text  # server still fine


@pytest.mark.asyncio
async def test_cut_raises_transport_error_async(client: genai.Client) -> None:
    got: list[str] = []
    with pytest.raises(httpx2.RemoteProtocolError):
        async for ch in await client.aio.models.generate_content_stream(
            model=MODEL, contents="a b c d e f g", config=fault("cut:3")
        ):
            got.extend(texts([ch]))
    assert len(got) == 3


def test_nofinish(client: genai.Client) -> None:
    chunks = list(
        client.models.generate_content_stream(
            model=MODEL, contents="a b c d e f", config=fault("nofinish:2")
        )
    )
    assert len(texts(chunks)) == 2
    assert all(c.candidates[0].finish_reason is None for c in chunks)


def test_error_event(client: genai.Client) -> None:
    got: list[str] = []
    with pytest.raises(errors.ServerError) as exc:
        for ch in client.models.generate_content_stream(
            model=MODEL, contents="a b c d e", config=fault("error_event:2")
        ):
            got.extend(texts([ch]))
    assert len(got) == 2 and exc.value.status == "INTERNAL"


@pytest.mark.parametrize("stream", [False, True])
def test_blocked(client: genai.Client, stream: bool) -> None:
    if stream:
        (r,) = list(
            client.models.generate_content_stream(
                model=MODEL, contents="x", config=fault("blocked")
            )
        )
    else:
        r = client.models.generate_content(model=MODEL, contents="x", config=fault("blocked"))
    assert r.prompt_feedback.block_reason == types.BlockedReason.SAFETY
    assert not r.candidates and r.text is None


@pytest.mark.parametrize("stream", [False, True])
def test_safety_finish(client: genai.Client, stream: bool) -> None:
    if stream:
        (r,) = list(
            client.models.generate_content_stream(
                model=MODEL, contents="x", config=fault("safety_finish")
            )
        )
    else:
        r = client.models.generate_content(model=MODEL, contents="x", config=fault("safety_finish"))
    assert r.candidates[0].finish_reason == types.FinishReason.SAFETY and r.text is None


def test_slow(client: genai.Client) -> None:
    t0 = time.perf_counter()
    assert client.models.generate_content(model=MODEL, contents="x", config=fault("slow:150")).text
    assert time.perf_counter() - t0 >= 0.15
    with pytest.raises(httpx2.ReadTimeout):
        list(
            client.models.generate_content_stream(
                model=MODEL, contents="x", config=fault("slow:1000", timeout=200)
            )
        )


def test_stall_trips_idle_timeout(client: genai.Client) -> None:
    got: list[str] = []
    t0 = time.perf_counter()
    with pytest.raises(httpx2.ReadTimeout):
        for ch in client.models.generate_content_stream(
            model=MODEL, contents="a b c d", config=fault("stall:1500", timeout=250)
        ):
            got.extend(texts([ch]))
    assert len(got) == 1 and time.perf_counter() - t0 < 1.0
    chunks = list(
        client.models.generate_content_stream(model=MODEL, contents="a b", config=fault("stall:50"))
    )
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP


def test_notjson(client: genai.Client) -> None:
    with pytest.raises(json.JSONDecodeError):
        client.models.generate_content(model=MODEL, contents="x", config=fault("notjson"))
    with pytest.raises(errors.UnknownApiResponseError):
        list(
            client.models.generate_content_stream(
                model=MODEL, contents="x", config=fault("notjson")
            )
        )


def test_sse_wire_format(fake: FakeGemini) -> None:
    r = httpx.post(
        f"{fake.base_url}/v1beta/models/{MODEL}:streamGenerateContent?alt=sse",
        headers={"x-goog-api-key": "k", "x-fake-chunks": "2"},
        json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
    )
    assert r.headers["content-type"].startswith("text/event-stream")
    events = r.text.split("\n\n")
    assert events[-1] == "" and len(events) == 3
    assert all(e.startswith("data: {") and "\n" not in e for e in events[:-1])
