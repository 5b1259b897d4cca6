"""Claude through anthropic.AsyncAnthropic (the Messages API, streamed).

Thinking (`thinkingConfig.thinkingBudget` → `thinking.budget_tokens`, or includeThoughts with a
default budget) streams as thoughts; each block's signature is kept with the stored reply and
sent back with it, as a signed thinking block, only to the instance that wrote it. Text, tool
use (gathered from input_json_delta), usage and stop reasons are reported. Retries before the
first event are the SDK's own (`max_retries`, honouring Retry-After).
"""

from __future__ import annotations

import json
from typing import Any

import anthropic

from apsara_core.errors import ProviderBadRequestError, ProviderBlockedError, ProviderError
from apsara_core.providers.base import ProviderChunk, ProviderRequest, Turn, Usage, put_present
from apsara_core.providers.sdk_instance import Converter, SdkInstance, Starter, map_sdk_error

DEFAULT_MAX_TOKENS = 8192
DEFAULT_THINKING_BUDGET = 4096
MIN_THINKING_BUDGET = 1024
STOP = {
    "end_turn": "STOP",
    "stop_sequence": "STOP",
    "tool_use": "STOP",
    "max_tokens": "MAX_TOKENS",
    "pause_turn": "STOP",
}
BUSY = {"overloaded_error", "api_error"}


def _body_type(exc: anthropic.APIStatusError) -> str:
    body: dict[str, Any] = exc.body if isinstance(exc.body, dict) else {}
    err = body.get("error")
    return str(err.get("type") or "") if isinstance(err, dict) else ""


def map_error(exc: BaseException, label: str = "Anthropic") -> ProviderError | None:
    """The ProviderError for an anthropic SDK or transport failure (None when it is not one)."""
    kind = _body_type(exc) if isinstance(exc, anthropic.APIStatusError) else ""
    return map_sdk_error(
        exc,
        label,
        anthropic,
        rate_limited=kind == "rate_limit_error",
        busy=kind in BUSY,
        status_note=f" {kind}",
    )


def _assistant(turn: Turn, own: str, thinking: bool) -> dict[str, Any]:
    """An assistant message; its signed thinking goes back only to the instance that wrote it,
    and only while this request thinks too."""
    blocks: list[dict[str, Any]] = []
    if thinking and turn.provider == own and turn.thoughts and len(turn.signatures) == 1:
        blocks.append(
            {"type": "thinking", "thinking": turn.thoughts, "signature": turn.signatures[0]}
        )
    blocks.append({"type": "text", "text": turn.text})
    return {"role": "assistant", "content": blocks}


def thinking_budget(request: ProviderRequest, thinks: bool) -> int | None:
    """budget_tokens for the request (None: thinking off)."""
    opts = request.options
    if not thinks or opts.thinking_budget == 0:
        return None
    if opts.thinking_budget is None:
        return DEFAULT_THINKING_BUDGET if opts.include_thoughts else None
    if opts.thinking_budget < 0:
        return DEFAULT_THINKING_BUDGET
    return max(opts.thinking_budget, MIN_THINKING_BUDGET)


def build_params(request: ProviderRequest, model: str, own: str, thinks: bool) -> dict[str, Any]:
    """Keyword arguments of messages.create (streaming)."""
    opts = request.options
    budget = thinking_budget(request, thinks)
    messages = [
        _assistant(t, own, budget is not None)
        if t.role == "model"
        else {"role": "user", "content": t.text}
        for t in request.turns
    ]
    max_tokens = opts.max_output_tokens or DEFAULT_MAX_TOKENS
    params: dict[str, Any] = {"model": model, "messages": messages, "stream": True}
    if budget is not None:
        params["thinking"] = {"type": "enabled", "budget_tokens": budget}
        max_tokens = max(max_tokens, budget + MIN_THINKING_BUDGET)
    else:  # Anthropic accepts no sampling changes while thinking
        put_present(
            params,
            ("temperature", opts.temperature),
            ("top_p", opts.top_p),
            ("top_k", opts.top_k),
        )
    params["max_tokens"] = max_tokens
    if request.system_instruction:
        params["system"] = request.system_instruction
    if opts.stop_sequences:
        params["stop_sequences"] = list(opts.stop_sequences)
    return params


class _State:
    """What the events of one stream built up: usage, open tool_use blocks."""

    def __init__(self) -> None:
        self.usage = Usage()
        self.tools: dict[int, dict[str, Any]] = {}
        self.finish: str | None = None

    def convert(self, event: Any) -> list[ProviderChunk]:
        kind = event.type
        if kind == "message_start":
            self.usage.prompt = event.message.usage.input_tokens or 0
        elif kind == "content_block_start" and event.content_block.type == "tool_use":
            block = event.content_block
            self.tools[event.index] = {"id": block.id, "name": block.name, "json": ""}
        elif kind == "content_block_delta":
            return self._delta(event.index, event.delta)
        elif kind == "content_block_stop" and event.index in self.tools:
            tool = self.tools.pop(event.index)
            args = json.loads(tool["json"] or "{}")
            call = {"id": tool["id"], "name": tool["name"], "args": args}
            return [ProviderChunk("function_call", function_call=call)]
        elif kind == "message_delta":
            return self._message_delta(event)
        return []

    def _delta(self, index: int, delta: Any) -> list[ProviderChunk]:
        if delta.type == "text_delta":
            return [ProviderChunk("text", text=delta.text)]
        if delta.type == "thinking_delta":
            return [ProviderChunk("thought", text=delta.thinking)]
        if delta.type == "signature_delta":
            return [ProviderChunk("thought", thought_signature=delta.signature)]
        if delta.type == "input_json_delta" and index in self.tools:
            self.tools[index]["json"] += delta.partial_json
        return []

    def _message_delta(self, event: Any) -> list[ProviderChunk]:
        reason = event.delta.stop_reason
        if reason == "refusal":
            raise ProviderBlockedError(
                "Anthropic refused to answer (stop_reason refusal)",
                suggestions=["Rephrase the message"],
            )
        if event.usage is not None and event.usage.output_tokens is not None:
            self.usage.output = event.usage.output_tokens
        self.usage.total = self.usage.prompt + self.usage.output
        self.finish = STOP.get(reason or "", (reason or "STOP").upper())
        return [ProviderChunk("usage", usage=Usage(**vars(self.usage)), finish_reason=self.finish)]


class AnthropicProvider(SdkInstance[anthropic.AsyncAnthropic]):
    """One Anthropic instance (`NAME/MODEL` ids)."""

    kind = "anthropic"

    def embedding_models(self) -> list[str]:
        """Anthropic has no embeddings API."""
        return []

    def client(self) -> anthropic.AsyncAnthropic:
        """The SDK client (built once)."""
        if self._sdk is None:
            self._sdk = anthropic.AsyncAnthropic(
                api_key=self.config.api_key(required=True), **self._client_options()
            )
        return self._sdk

    def _map(self, exc: BaseException) -> ProviderError | None:
        return map_error(exc, self.label)

    def _open(
        self, client: anthropic.AsyncAnthropic, request: ProviderRequest
    ) -> tuple[Starter, Converter]:
        params = build_params(
            request, self.config.upstream(request.model), self.name, self.thinks(request.model)
        )
        return lambda: client.messages.create(**params), _State().convert

    async def embed(self, **kwargs: Any) -> list[list[float]]:
        """Anthropic has no embeddings API (never routed here: embedding_models is empty)."""
        raise ProviderBadRequestError("Anthropic models do not make embeddings", field="model")
