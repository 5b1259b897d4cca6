"""Any OpenAI-compatible server (OpenAI, xAI, Ollama, vLLM, OpenRouter) through openai.AsyncOpenAI.

Text and `reasoning_content` (or `reasoning`) deltas stream as text and thoughts; usage comes
from `stream_options.include_usage`; tool calls are gathered per index and reported at the end.
Retries before the first chunk are the SDK's own (`max_retries`, honouring Retry-After); a
failure after it ends the stream and the caller keeps the partial reply. Every SDK exception
maps to the ProviderError family (see `map_error`).
"""

from __future__ import annotations

import json
from typing import Any

import openai

from apsara_core.errors import ProviderBlockedError, ProviderError, ProviderUnavailableError
from apsara_core.providers.base import ProviderChunk, ProviderRequest, Usage, put_present
from apsara_core.providers.instances import NO_KEY
from apsara_core.providers.sdk_instance import Converter, SdkInstance, Starter, map_sdk_error

FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "tool_calls": "STOP", "function_call": "STOP"}


def map_error(
    exc: BaseException, label: str = "The OpenAI-compatible server"
) -> ProviderError | None:
    """The ProviderError for an openai SDK or transport failure (None when it is not one)."""
    mapped = map_sdk_error(exc, label, openai)
    if mapped is None and isinstance(exc, openai.APIError):  # an {"error": ...} mid-stream
        return ProviderUnavailableError(f"{label} reported an error mid-stream: {exc.message}")
    return mapped


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
    put_present(
        params,
        ("temperature", opts.temperature),
        ("top_p", opts.top_p),
        ("max_tokens", opts.max_output_tokens),
    )
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


class OpenAIProvider(SdkInstance[openai.AsyncOpenAI]):
    """One OpenAI-compatible instance (`NAME/MODEL` ids)."""

    kind = "openai"

    def embedding_models(self) -> list[str]:
        """Embedding models served (`NAME/MODEL`)."""
        return [f"{self.name}/{m.name}" for m in self.config.models if m.embedding]

    def client(self) -> openai.AsyncOpenAI:
        """The SDK client (built once); local servers without a key get a placeholder."""
        if self._sdk is None:
            required = bool(self.config.api_key_env or self.config.api_key_file)
            key = self.config.api_key(required=required) or NO_KEY
            self._sdk = openai.AsyncOpenAI(api_key=key, **self._client_options())
        return self._sdk

    def _map(self, exc: BaseException) -> ProviderError | None:
        return map_error(exc, self.label)

    def _open(
        self, client: openai.AsyncOpenAI, request: ProviderRequest
    ) -> tuple[Starter, Converter]:
        params = build_params(
            request, self.config.upstream(request.model), self.thinks(request.model)
        )
        calls, thoughts = _Calls(), request.options.include_thoughts
        return (
            lambda: client.chat.completions.create(**params),
            lambda event: convert(event, calls, thoughts),
        )

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
        result = await self._call(
            lambda: self.client().embeddings.create(
                model=self.config.upstream(model), input=texts, **extra
            )
        )
        return [list(d.embedding) for d in sorted(result.data, key=lambda d: d.index)]
