"""Gemini through google-genai's async streaming call.

Retries 429/5xx (and transport failures) with exponential backoff only before the first chunk;
400/401/403/404 are never retried. Every chunk is awaited with an idle timeout. SDK errors become
the ProviderError family so callers can tell unavailable, rate-limited, blocked, bad request and
refused credentials (the server's key, not the caller's request) apart.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import httpx
import httpx2
from google.genai import errors as genai_errors

from apsara_core.errors import (
    NoApiKeyError,
    ProviderAuthError,
    ProviderBadRequestError,
    ProviderBlockedError,
    ProviderError,
    ProviderRateLimitedError,
    ProviderUnavailableError,
)
from apsara_core.providers.base import ProviderChunk, ProviderRequest, Usage
from apsara_core.providers.instances import next_item

if TYPE_CHECKING:
    from google import genai
    from google.genai import types as genai_types

    from apsara_core.config import Settings

T = TypeVar("T")
MODELS = [
    "gemini-2.5-flash",
    "gemini-2.5-pro",
    "gemini-2.5-flash-lite",
    "gemini-2.0-flash",
    "gemini-2.0-flash-lite",
]
EMBEDDING_MODELS = ["gemini-embedding-001", "text-embedding-004"]
INPUT_TOKEN_LIMIT = 1_048_576
OUTPUT_RESERVE = 65_536
BLOCKING_FINISH = {
    "SAFETY",
    "PROHIBITED_CONTENT",
    "BLOCKLIST",
    "SPII",
    "RECITATION",
    "IMAGE_SAFETY",
}
_VERSION = re.compile(r"gemini-(\d+)(?:\.(\d+))?")
RETRYABLE = (ProviderRateLimitedError, ProviderUnavailableError)
# Gemini answers a bad key with 400 INVALID_ARGUMENT and one of these ErrorInfo reasons.
AUTH_REASONS = {
    "API_KEY_INVALID",
    "API_KEY_EXPIRED",
    "API_KEY_SERVICE_BLOCKED",
    "API_KEY_HTTP_REFERRER_BLOCKED",
    "API_KEY_IP_ADDRESS_BLOCKED",
    "SERVICE_DISABLED",
}
# Gemini's 403 for a file URI the key may not read: the caller's input, not our credentials.
_FILE_DENIED = re.compile(r"permission to access the File", re.IGNORECASE)


def register_providers(register: Callable[[Any], None], settings: Settings) -> None:
    """The plugin hook: the built-in Google provider registers like any plugin."""
    register(GoogleProvider(settings))


def map_error(exc: BaseException) -> ProviderError | None:
    """The ProviderError for an SDK or transport failure (None when it is not one)."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, genai_errors.ClientError):
        detail = exc.message or str(exc)
        if exc.code == 429:
            return ProviderRateLimitedError(
                f"Gemini is rate limiting requests (429): {detail}",
                suggestions=["Wait a moment and try again"],
            )
        if _FILE_DENIED.search(detail):
            return ProviderBadRequestError(
                f"Gemini cannot read a file of the request ({exc.code} {exc.status}): {detail}",
                field="files",
            )
        if exc.code in (401, 403) or _reasons(exc) & AUTH_REASONS:
            return ProviderAuthError(
                f"Gemini refused the server's API key ({exc.code} {exc.status}): {detail}",
                suggestions=["The operator must check GOOGLE_AI_API_KEY and the key's project"],
            )
        return ProviderBadRequestError(
            f"Gemini rejected the request ({exc.code} {exc.status}): {detail}"
        )
    if isinstance(exc, genai_errors.ServerError):
        return ProviderUnavailableError(
            f"Gemini failed ({exc.code} {exc.status}): {exc.message}",
            suggestions=["Try again in a moment"],
        )
    if isinstance(
        exc,
        (
            httpx.TransportError,
            httpx2.TransportError,
            genai_errors.UnknownApiResponseError,
            json.JSONDecodeError,
        ),
    ):
        return ProviderUnavailableError(
            f"Gemini could not be reached or answered garbage: {type(exc).__name__}: {exc}"
        )
    return None


def _reasons(exc: genai_errors.APIError) -> set[str]:
    """The ErrorInfo reasons of a Google error body (`error.details[].reason`)."""
    body = exc.details.get("error", {}) if isinstance(exc.details, dict) else {}
    details = body.get("details") if isinstance(body, dict) else None
    return {str(d.get("reason")) for d in details or [] if isinstance(d, dict) and d.get("reason")}


class GoogleProvider:
    """Gemini models (generation and embeddings) through google-genai."""

    name = "google"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._sdk: genai.Client | None = None

    def models(self) -> list[str]:
        """Generation models served."""
        return list(MODELS)

    def embedding_models(self) -> list[str]:
        """Embedding models served."""
        return list(EMBEDDING_MODELS)

    def thinks(self, model: str) -> bool:
        """Gemini 2.5 and later think; 2.0 and earlier do not."""
        match = _VERSION.match(model)
        if not match:
            return False
        return (int(match.group(1)), int(match.group(2) or 0)) >= (2, 5)

    def token_budget(self, model: str) -> int:
        """History budget: the setting when given, else the input window minus an output reserve."""
        return self.settings.history_token_budget or INPUT_TOKEN_LIMIT - OUTPUT_RESERVE

    def check_ready(self) -> None:
        """Raise NoApiKeyError when no key is configured (before anything is written)."""
        self.client()

    def client(self) -> genai.Client:
        """The SDK client (built once).

        Raises:
            NoApiKeyError: neither GOOGLE_AI_API_KEY nor GEMINI_API_KEY is set.
        """
        if self._sdk is None:
            key = self.settings.google_ai_api_key
            if key is None or not key.get_secret_value().strip():
                raise NoApiKeyError(
                    "No Gemini API key: set GOOGLE_AI_API_KEY (or GEMINI_API_KEY)",
                    suggestions=[
                        "Get a key at https://aistudio.google.com/apikey",
                        "export GOOGLE_AI_API_KEY=... or put it in .env",
                    ],
                )
            from google import genai
            from google.genai import types

            options = types.HttpOptions(
                base_url=self.settings.google_gemini_base_url,
                timeout=int(self.settings.gemini_timeout_s * 1000),
            )
            self._sdk = genai.Client(api_key=key.get_secret_value(), http_options=options)
        return self._sdk

    async def aclose(self) -> None:
        """Close the SDK client's connection pools (its async client's too), so none is
        left for the garbage collector to close after the event loop has ended."""
        sdk, self._sdk = self._sdk, None
        if sdk is not None:
            await sdk.aio.aclose()
            sdk.close()

    async def warm(self) -> None:
        """Build the SDK client, open its connection with one metadata call (models.get,
        which generates nothing) and build the SDK's request and response models (in a
        thread), so a process's first message pays none of it. Errors are for the caller to
        log: the first real call reports them properly."""
        from apsara_core.providers.google_warm import SAMPLE_REQUEST, build_types
        from apsara_core.vocabulary import DEFAULT_MODEL

        client = self.client()
        contents, config = build_payload(SAMPLE_REQUEST)
        building = asyncio.ensure_future(
            asyncio.to_thread(build_types, client._api_client, DEFAULT_MODEL, contents, config)
        )
        try:
            await client.aio.models.get(model=DEFAULT_MODEL)
        finally:
            await building

    async def _retrying(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """Run `attempt`, retrying 429/5xx/transport failures with bounded backoff."""
        tries = self.settings.gemini_retries
        for n in range(tries):
            try:
                return await attempt()
            except Exception as exc:
                mapped = map_error(exc)
                if mapped is None:
                    raise
                if not isinstance(mapped, RETRYABLE) or n == tries - 1:
                    raise mapped from exc
            await asyncio.sleep(self.settings.gemini_retry_base_s * 2**n)
        raise AssertionError("unreachable")

    async def _next(self, iterator: AsyncIterator[Any]) -> Any | None:
        """The next SDK chunk (None at the end), bounded by the idle timeout.

        `asyncio.timeout`, not `wait_for`: on Python 3.11 `wait_for` swallows a cancellation
        that lands as the chunk arrives, and a reply whose reader had gone ran on to the end.
        """
        return await next_item(
            iterator, idle=self.settings.gemini_idle_timeout_s, label="Gemini", map_error=map_error
        )

    async def stream(self, request: ProviderRequest) -> AsyncGenerator[ProviderChunk, None]:
        """Stream Gemini's answer as chunks; the upstream call is closed on any exit.

        Raises:
            NoApiKeyError, ProviderRateLimitedError, ProviderUnavailableError,
            ProviderBadRequestError, ProviderBlockedError.
        """
        client = self.client()
        contents, config = build_payload(request)
        holder: list[AsyncIterator[Any]] = []

        async def open_stream() -> Any:
            await _close_all(holder)
            it = await client.aio.models.generate_content_stream(
                model=request.model, contents=contents, config=config
            )
            holder.append(it)
            return await self._next(it)

        try:
            response = await self._retrying(open_stream)
            finish: str | None = None
            while response is not None:
                for chunk in convert(response):
                    finish = chunk.finish_reason or finish
                    yield chunk
                response = await self._next(holder[-1])
            if finish is None:
                raise ProviderUnavailableError(
                    "Gemini's stream ended before the reply was finished"
                )
        finally:
            await _close_all(holder)

    async def embed(
        self,
        *,
        texts: list[str],
        model: str,
        task_type: str | None,
        output_dimensionality: int | None,
    ) -> list[list[float]]:
        """One vector per text (a single batch call), retried like generation."""
        client = self.client()
        config: genai_types.EmbedContentConfigDict = {}
        if task_type:
            config["task_type"] = task_type
        if output_dimensionality:
            config["output_dimensionality"] = output_dimensionality

        async def call() -> Any:
            return await client.aio.models.embed_content(
                model=model, contents=texts, config=config or None
            )

        result = await self._retrying(call)
        return [list(e.values or []) for e in result.embeddings or []]


async def _close_all(holder: list[AsyncIterator[Any]]) -> None:
    """Close opened SDK streams (ends the HTTP response, cancelling the upstream call)."""
    while holder:
        it = holder.pop()
        closer = getattr(it, "aclose", None)
        if closer is not None:
            try:
                await closer()
            except Exception:  # closing a broken stream must not hide the real error
                pass


def build_payload(
    request: ProviderRequest,
) -> tuple[list[dict[str, Any]], genai_types.GenerateContentConfigDict]:
    """SDK `contents` and `config` dicts for a request."""
    contents = []
    for turn in request.turns:
        parts: list[dict[str, Any]] = [
            {"file_data": {"file_uri": f["uri"], "mime_type": f["mimeType"]}} for f in turn.files
        ]
        if turn.text:
            parts.append({"text": turn.text})
        contents.append({"role": turn.role, "parts": parts})
    # to_config(snake=True) names exactly the SDK's GenerateContentConfig fields
    config = cast("genai_types.GenerateContentConfigDict", request.options.to_config(snake=True))
    if request.system_instruction:
        config["system_instruction"] = request.system_instruction
    return contents, config


def convert(response: Any) -> list[ProviderChunk]:
    """Chunks of one SDK response: thoughts, text, function calls, then usage/finish.

    Raises:
        ProviderBlockedError: the prompt was blocked or the reply stopped for safety.
    """
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason:
        reason = _enum_name(feedback.block_reason)
        raise ProviderBlockedError(
            f"Gemini blocked the prompt (blockReason {reason})",
            details=feedback.block_reason_message or None,
            suggestions=["Rephrase the message"],
        )
    out: list[ProviderChunk] = []
    candidate = response.candidates[0] if response.candidates else None
    parts = candidate.content.parts if candidate and candidate.content else None
    for part in parts or []:
        sig = base64.b64encode(part.thought_signature).decode() if part.thought_signature else None
        if part.function_call is not None:
            call = {
                "id": part.function_call.id,
                "name": part.function_call.name,
                "args": dict(part.function_call.args or {}),
            }
            out.append(ProviderChunk("function_call", function_call=call, thought_signature=sig))
        elif part.text:
            out.append(
                ProviderChunk(
                    "thought" if part.thought else "text", text=part.text, thought_signature=sig
                )
            )
    finish = _enum_name(candidate.finish_reason) if candidate and candidate.finish_reason else None
    if finish in BLOCKING_FINISH:
        raise ProviderBlockedError(
            f"Gemini stopped the reply for safety (finishReason {finish})",
            suggestions=["Rephrase the message"],
        )
    out.append(ProviderChunk("usage", usage=_usage(response.usage_metadata), finish_reason=finish))
    return out


def _usage(meta: Any) -> Usage | None:
    if meta is None:
        return None
    prompt = meta.prompt_token_count or 0
    output = meta.candidates_token_count or 0
    thoughts = meta.thoughts_token_count or 0
    return Usage(
        prompt=prompt,
        output=output,
        thoughts=thoughts,
        total=meta.total_token_count or prompt + output + thoughts,
    )


def _enum_name(value: Any) -> str:
    return str(getattr(value, "value", value))
