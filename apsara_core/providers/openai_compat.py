"""Any OpenAI-compatible server (OpenAI, xAI, Ollama, vLLM, OpenRouter) through openai.AsyncOpenAI.

Text and `reasoning_content` (or `reasoning`) deltas stream as text and thoughts; usage comes
from `stream_options.include_usage`; tool calls are gathered per index and reported at the end.
Retries before the first chunk are the SDK's own (`max_retries`, honouring Retry-After); a
failure after it ends the stream and the caller keeps the partial reply. Every SDK exception
maps to the ProviderError family (see `map_error`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

import httpx
import httpx2
import openai

from apsara_core.errors import (
    ProviderAuthError,
    ProviderBadRequestError,
    ProviderBlockedError,
    ProviderError,
    ProviderRateLimitedError,
    ProviderUnavailableError,
)
from apsara_core.providers.base import ProviderChunk, ProviderRequest, Usage
from apsara_core.providers.instances import (
    NO_KEY,
    InstanceConfig,
    close_quietly,
    history_budget,
    next_item,
)

if TYPE_CHECKING:
    from apsara_core.config import Settings

FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "tool_calls": "STOP", "function_call": "STOP"}


def retry_after(exc: openai.APIStatusError) -> str | None:
    """The Retry-After header of an error response, if any."""
    return exc.response.headers.get("retry-after")


def map_error(
    exc: BaseException, label: str = "The OpenAI-compatible server"
) -> ProviderError | None:
    """The ProviderError for an openai SDK or transport failure (None when it is not one)."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, openai.RateLimitError):
        wait = retry_after(exc)
        return ProviderRateLimitedError(
            f"{label} is rate limiting requests (429): {exc.message}",
            details=f"Retry-After: {wait} s" if wait else exc.message,
            suggestions=[f"Wait {wait} s and try again" if wait else "Wait and try again"],
        )
    if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
        return ProviderAuthError(
            f"{label} refused the server's API key ({exc.status_code}): {exc.message}",
            suggestions=["The operator must check the key variable of this provider"],
        )
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code >= 500:
            return ProviderUnavailableError(
                f"{label} failed ({exc.status_code}): {exc.message}",
                suggestions=["Try again in a moment"],
            )
        return ProviderBadRequestError(
            f"{label} rejected the request ({exc.status_code}): {exc.message}"
        )
    if isinstance(exc, openai.APITimeoutError):
        return ProviderUnavailableError(f"{label} timed out", suggestions=["Try again"])
    if isinstance(exc, openai.APIConnectionError):
        return ProviderUnavailableError(
            f"{label} could not be reached or cut the connection: {exc.__cause__ or exc}"
        )
    if isinstance(exc, openai.APIError):  # an {"error": ...} event in the middle of a stream
        return ProviderUnavailableError(f"{label} reported an error mid-stream: {exc.message}")
    if isinstance(exc, (httpx.TransportError, httpx2.TransportError, json.JSONDecodeError)):
        return ProviderUnavailableError(f"{label} cut the connection: {type(exc).__name__}: {exc}")
    return None


def build_messages(request: ProviderRequest) -> list[dict[str, Any]]:
    """Chat messages of a request: system first, then the turns' text (no thoughts: a model's
    thoughts never go back as text)."""
    out: list[dict[str, Any]] = []
    if request.system_instruction:
        out.append({"role": "system", "content": request.system_instruction})
    for turn in request.turns:
        out.append({"role": "user" if turn.role == "user" else "assistant", "content": turn.text})
    return out


def build_params(request: ProviderRequest, model: str, thinks: bool) -> dict[str, Any]:
    """Keyword arguments of chat.completions.create (streaming)."""
    opts = request.options
    params: dict[str, Any] = {
        "model": model,
        "messages": build_messages(request),
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    for key, value in (
        ("temperature", opts.temperature),
        ("top_p", opts.top_p),
        ("max_tokens", opts.max_output_tokens),
    ):
        if value is not None:
            params[key] = value
    if opts.stop_sequences:
        params["stop"] = list(opts.stop_sequences)
    if opts.top_k is not None:
        params["extra_body"] = {"top_k": opts.top_k}  # vLLM and Ollama read it
    if thinks and opts.thinking_budget is not None and opts.thinking_budget > 0:
        budget = opts.thinking_budget
        params["reasoning_effort"] = (
            "low" if budget <= 2048 else "medium" if budget <= 16384 else "high"
        )
    return params


def _usage(raw: Any) -> Usage:
    details = getattr(raw, "completion_tokens_details", None)
    thoughts = getattr(details, "reasoning_tokens", None) or 0
    completion = raw.completion_tokens or 0
    prompt = raw.prompt_tokens or 0
    return Usage(
        prompt=prompt,
        output=max(completion - thoughts, 0),
        thoughts=thoughts,
        total=raw.total_tokens or prompt + completion,
    )


class _Calls:
    """Tool call deltas gathered by index."""

    def __init__(self) -> None:
        self.calls: dict[int, dict[str, str]] = {}

    def add(self, deltas: Any) -> None:
        for d in deltas or []:
            call = self.calls.setdefault(d.index, {"id": "", "name": "", "arguments": ""})
            call["id"] = d.id or call["id"]
            if d.function is not None:
                call["name"] = d.function.name or call["name"]
                call["arguments"] += d.function.arguments or ""

    def chunks(self) -> list[ProviderChunk]:
        out = []
        for _, call in sorted(self.calls.items()):
            try:
                args = json.loads(call["arguments"] or "{}")
            except ValueError:
                args = {"_raw": call["arguments"]}
            fc = {"id": call["id"] or None, "name": call["name"], "args": args}
            out.append(ProviderChunk("function_call", function_call=fc))
        return out


def convert(event: Any, calls: _Calls, include_thoughts: bool) -> list[ProviderChunk]:
    """Chunks of one streamed chat.completion.chunk."""
    out: list[ProviderChunk] = []
    if event.usage is not None:
        out.append(ProviderChunk("usage", usage=_usage(event.usage)))
    for choice in event.choices[:1]:
        delta = choice.delta
        thought = getattr(delta, "reasoning_content", None) or getattr(delta, "reasoning", None)
        if thought and include_thoughts and isinstance(thought, str):
            out.append(ProviderChunk("thought", text=thought))
        if delta.content:
            out.append(ProviderChunk("text", text=delta.content))
        calls.add(delta.tool_calls)
        if choice.finish_reason:
            if choice.finish_reason == "content_filter":
                raise ProviderBlockedError(
                    "The provider stopped the reply for safety (finish_reason content_filter)",
                    suggestions=["Rephrase the message"],
                )
            out.extend(calls.chunks())
            reason = FINISH.get(choice.finish_reason, choice.finish_reason.upper())
            out.append(ProviderChunk("usage", finish_reason=reason))
    return out


class OpenAIProvider:
    """One OpenAI-compatible instance (`NAME/MODEL` ids)."""

    kind = "openai"

    def __init__(self, config: InstanceConfig, settings: Settings) -> None:
        self.config = config
        self.name = config.name
        self.settings = settings
        self._sdk: openai.AsyncOpenAI | None = None
        self.label = f"Provider {config.name}"

    def models(self) -> list[str]:
        """Generation models served (`NAME/MODEL`)."""
        return [f"{self.name}/{m.name}" for m in self.config.models if not m.embedding]

    def embedding_models(self) -> list[str]:
        """Embedding models served (`NAME/MODEL`)."""
        return [f"{self.name}/{m.name}" for m in self.config.models if m.embedding]

    def thinks(self, model: str) -> bool:
        """As declared for the model."""
        return self.config.spec(model).thinks

    def token_budget(self, model: str) -> int:
        """History budget from the model's context window."""
        return history_budget(
            self.config.spec(model).context_window, self.settings.history_token_budget
        )

    def check_ready(self) -> None:
        """Raise NoApiKeyError when the declared key is missing."""
        self.client()

    def client(self) -> openai.AsyncOpenAI:
        """The SDK client (built once); local servers without a key get a placeholder."""
        if self._sdk is None:
            required = bool(self.config.api_key_env or self.config.api_key_file)
            key = self.config.api_key(required=required) or NO_KEY
            self._sdk = openai.AsyncOpenAI(
                api_key=key,
                base_url=self.config.base_url,
                max_retries=self.settings.gemini_retries - 1,
                timeout=self.settings.gemini_timeout_s,
            )
        return self._sdk

    async def aclose(self) -> None:
        """Close the SDK client's connection pool (Core.close)."""
        if self._sdk is not None:
            sdk, self._sdk = self._sdk, None
            await sdk.close()

    def _map(self, exc: BaseException) -> ProviderError | None:
        return map_error(exc, self.label)

    async def stream(self, request: ProviderRequest) -> AsyncGenerator[ProviderChunk, None]:
        """Stream the answer; the HTTP response is closed on any exit.

        Raises:
            NoApiKeyError, ProviderRateLimitedError, ProviderUnavailableError,
            ProviderBadRequestError, ProviderAuthError, ProviderBlockedError.
        """
        client = self.client()
        params = build_params(
            request, self.config.upstream(request.model), self.thinks(request.model)
        )
        try:
            sdk_stream = await client.chat.completions.create(**params)
        except Exception as exc:
            mapped = self._map(exc)
            raise (mapped or exc) from exc
        calls, finish = _Calls(), None
        idle = self.settings.gemini_idle_timeout_s
        try:
            iterator = sdk_stream.__aiter__()
            while (
                event := await next_item(iterator, idle=idle, label=self.label, map_error=self._map)
            ) is not None:
                for chunk in convert(event, calls, request.options.include_thoughts):
                    finish = chunk.finish_reason or finish
                    yield chunk
            if finish is None:
                raise ProviderUnavailableError(
                    f"{self.label}'s stream ended before the reply was finished"
                )
        finally:
            await close_quietly(sdk_stream)

    async def embed(
        self,
        *,
        texts: list[str],
        model: str,
        task_type: str | None,
        output_dimensionality: int | None,
    ) -> list[list[float]]:
        """One vector per text through /v1/embeddings (`task_type` has no equivalent)."""
        extra: dict[str, Any] = {}
        if output_dimensionality:
            extra["dimensions"] = output_dimensionality
        try:
            result = await self.client().embeddings.create(
                model=self.config.upstream(model), input=texts, **extra
            )
        except Exception as exc:
            mapped = self._map(exc)
            raise (mapped or exc) from exc
        return [list(d.embedding) for d in sorted(result.data, key=lambda d: d.index)]
