"""The baseline of the HTTP throughput benchmark: a bare Starlette app that makes the same
Gemini SDK streaming call per request, with no storage, quota or auth
(`uvicorn --factory tests.benchmarks.bare_app:app`; GOOGLE_GEMINI_BASE_URL names the fake)."""

from __future__ import annotations

import os

from google import genai
from google.genai import types
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def app() -> Starlette:
    """The baseline app."""
    client = genai.Client(
        api_key="bench-key",
        http_options=types.HttpOptions(base_url=os.environ["GOOGLE_GEMINI_BASE_URL"]),
    )

    async def generate(request: Request) -> JSONResponse:
        body = await request.json()
        text = ""
        stream = await client.aio.models.generate_content_stream(
            model="gemini-2.5-flash",
            contents=[{"role": "user", "parts": [{"text": body["contents"]}]}],
        )
        async for chunk in stream:
            text += chunk.text or ""
        return JSONResponse({"success": True, "text": text})

    return Starlette(routes=[Route("/api/ai/generate", generate, methods=["POST"])])
