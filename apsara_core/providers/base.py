"""The provider protocol and the types every AI provider speaks.

A provider turns a `ProviderRequest` into a stream of `ProviderChunk`s; `accumulate` folds them
into a `ProviderResult`. `GenerationOptions` validates the spec's camelCase config once, before
anything is written, with an error naming the field at fault.
"""

from __future__ import annotations

import math
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from apsara_core.errors import ValidationError

ChunkKind = Literal["thought", "text", "usage", "function_call"]
CONFIG_KEYS = ("temperature", "topP", "topK", "maxOutputTokens", "stopSequences", "thinkingConfig")
MAX_STOP_SEQUENCES = 5


@dataclass
class Usage:
    """Token counts as Gemini reports them (the latest running total of a stream)."""

    prompt: int = 0
    output: int = 0
    thoughts: int = 0
    total: int = 0

    def to_metadata(self) -> dict[str, int]:
        """The spec's usageMetadata document."""
        return {
            "promptTokenCount": self.prompt,
            "candidatesTokenCount": self.output,
            "thoughtsTokenCount": self.thoughts,
            "totalTokenCount": self.total,
        }

    def to_stored(self) -> dict[str, int]:
        """The stored message's metadata.tokens document."""
        return {
            "prompt": self.prompt,
            "output": self.output,
            "thoughts": self.thoughts,
            "total": self.total,
        }


@dataclass
class ProviderChunk:
    """One streamed piece: a thought or text delta, a usage update or a function call."""

    kind: ChunkKind
    text: str = ""
    usage: Usage | None = None
    finish_reason: str | None = None
    function_call: dict[str, Any] | None = None
    thought_signature: str | None = None


@dataclass
class ProviderResult:
    """Everything a finished (or cut) stream delivered."""

    text: str = ""
    thoughts: str = ""
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    function_calls: list[dict[str, Any]] = field(default_factory=list)
    thought_signatures: list[str] = field(default_factory=list)

    def add(self, chunk: ProviderChunk) -> None:
        """Fold one chunk into the result."""
        if chunk.kind == "thought":
            self.thoughts += chunk.text
        elif chunk.kind == "text":
            self.text += chunk.text
        elif chunk.kind == "function_call" and chunk.function_call is not None:
            self.function_calls.append(chunk.function_call)
        if chunk.thought_signature:
            self.thought_signatures.append(chunk.thought_signature)
        if chunk.usage is not None:
            self.usage = chunk.usage
        if chunk.finish_reason:
            self.finish_reason = chunk.finish_reason


async def accumulate(chunks: AsyncIterator[ProviderChunk]) -> ProviderResult:
    """Consume a provider stream into one result (the non-streaming form)."""
    result = ProviderResult()
    async for chunk in chunks:
        result.add(chunk)
    return result


@dataclass
class Turn:
    """One history entry sent to the model: role "user" or "model", text and file URIs.

    A model turn also carries its thoughts, their signatures and the name of the provider that
    wrote them: a provider may replay them (Anthropic's signed thinking blocks) only when it
    wrote them itself; thoughts are never sent as text.
    """

    role: Literal["user", "model"]
    text: str
    files: list[dict[str, str]] = field(default_factory=list)
    thoughts: str = ""
    signatures: list[str] = field(default_factory=list)
    provider: str | None = None


@dataclass(frozen=True)
class GenerationOptions:
    """Validated generation config (the spec's camelCase `config`)."""

    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    max_output_tokens: int | None = None
    stop_sequences: tuple[str, ...] = ()
    include_thoughts: bool = False
    thinking_budget: int | None = None

    @classmethod
    def from_config(cls, config: Any, *, thinking: bool) -> GenerationOptions:
        """Validate a config dict for a model (`thinking`: whether it supports thinking).

        Raises:
            ValidationError: naming the field and the accepted range.
        """
        if config is None:
            return cls()
        if not isinstance(config, dict):
            raise ValidationError("config must be an object", field="config")
        unknown = sorted(set(config) - set(CONFIG_KEYS))
        if unknown:
            raise ValidationError(
                f"Unknown config field {unknown[0]!r}; expected one of {', '.join(CONFIG_KEYS)}",
                field=f"config.{unknown[0]}",
            )
        include, budget = _thinking(config.get("thinkingConfig"), thinking)
        return cls(
            temperature=_number(config, "temperature", 0.0, 2.0),
            top_p=_number(config, "topP", 0.0, 1.0),
            top_k=_integer(config, "topK", 1),
            max_output_tokens=_integer(config, "maxOutputTokens", 1),
            stop_sequences=_stops(config.get("stopSequences")),
            include_thoughts=include and thinking,
            thinking_budget=budget,
        )

    def to_config(self, *, snake: bool = False) -> dict[str, Any]:
        """The config as stored on the message, camelCase (or snake_case for the SDK);
        unset fields omitted."""
        out: dict[str, Any] = {}
        put_present(
            out,
            ("temperature", self.temperature),
            ("topP", self.top_p),
            ("topK", self.top_k),
            ("maxOutputTokens", self.max_output_tokens),
        )
        if self.stop_sequences:
            out["stopSequences"] = list(self.stop_sequences)
        thinking: dict[str, Any] = {}
        if self.include_thoughts:
            thinking["includeThoughts"] = True
        if self.thinking_budget is not None:
            thinking["thinkingBudget"] = self.thinking_budget
        if thinking:
            out["thinkingConfig"] = thinking
        return _snake_keys(out) if snake else out


def put_present(out: dict[str, Any], *pairs: tuple[str, Any]) -> None:
    """Set each (key, value) pair on `out` whose value is not None."""
    for key, value in pairs:
        if value is not None:
            out[key] = value


_SNAKE = {
    "topP": "top_p",
    "topK": "top_k",
    "maxOutputTokens": "max_output_tokens",
    "stopSequences": "stop_sequences",
    "thinkingConfig": "thinking_config",
    "includeThoughts": "include_thoughts",
    "thinkingBudget": "thinking_budget",
}


def _snake_keys(config: dict[str, Any]) -> dict[str, Any]:
    return {
        _SNAKE.get(k, k): _snake_keys(v) if isinstance(v, dict) else v for k, v in config.items()
    }


def _is_number(value: Any) -> bool:
    # ints are compared exactly (math.isfinite would overflow on a 400-digit one).
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, int) and not isinstance(value, bool)


def _number(config: dict[str, Any], key: str, low: float, high: float) -> float | None:
    value = config.get(key)
    if value is None:
        return None
    if not _is_number(value) or not low <= value <= high:
        raise ValidationError(
            f"config.{key} must be a number from {low:g} to {high:g}; got {value!r}",
            field=f"config.{key}",
        )
    return float(value)


def _integer(config: dict[str, Any], key: str, low: int) -> int | None:
    value = config.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValidationError(
            f"config.{key} must be a whole number of at least {low}; got {value!r}",
            field=f"config.{key}",
        )
    return value


def _stops(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if (
        not isinstance(value, list)
        or len(value) > MAX_STOP_SEQUENCES
        or not all(isinstance(s, str) and s for s in value)
    ):
        raise ValidationError(
            f"config.stopSequences must be a list of up to {MAX_STOP_SEQUENCES} non-empty strings",
            field="config.stopSequences",
        )
    return tuple(value)


def _thinking(value: Any, thinking: bool) -> tuple[bool, int | None]:
    """(includeThoughts, thinkingBudget) from thinkingConfig."""
    if value is None:
        return False, None
    if not isinstance(value, dict) or set(value) - {"includeThoughts", "thinkingBudget"}:
        raise ValidationError(
            "config.thinkingConfig must be an object with includeThoughts and/or thinkingBudget",
            field="config.thinkingConfig",
        )
    include = value.get("includeThoughts", False)
    if not isinstance(include, bool):
        raise ValidationError(
            "config.thinkingConfig.includeThoughts must be true or false",
            field="config.thinkingConfig.includeThoughts",
        )
    budget = value.get("thinkingBudget")
    if budget is None:
        return include, None
    name = "config.thinkingConfig.thinkingBudget"
    if not thinking:
        raise ValidationError(
            f"{name} is only accepted by thinking models (Gemini 2.5 and "
            "later); this model does not think",
            field=name,
        )
    if not isinstance(budget, int) or isinstance(budget, bool) or budget < -1:
        raise ValidationError(
            f"{name} must be a whole number (0 off, -1 dynamic, or tokens); got {budget!r}",
            field=name,
        )
    return include, budget


@dataclass(frozen=True)
class ProviderRequest:
    """One generation request: model, history turns (last = the new prompt), system text."""

    model: str
    turns: list[Turn]
    system_instruction: str | None = None
    options: GenerationOptions = field(default_factory=GenerationOptions)


@runtime_checkable
class Provider(Protocol):
    """What every AI provider implements; registered through `register_providers`."""

    name: str

    def models(self) -> list[str]:
        """Generation model ids this provider serves."""

    def embedding_models(self) -> list[str]:
        """Embedding model ids this provider serves."""

    def check_ready(self) -> None:
        """Raise NoApiKeyError (or ConfigError) when calls cannot be made at all."""

    def thinks(self, model: str) -> bool:
        """Whether the model accepts thinkingConfig.thinkingBudget."""

    def token_budget(self, model: str) -> int:
        """How many input tokens of history to send to the model."""

    def stream(self, request: ProviderRequest) -> AsyncGenerator[ProviderChunk, None]:
        """Stream the answer; raises ProviderError subclasses."""

    async def embed(
        self,
        *,
        texts: list[str],
        model: str,
        task_type: str | None,
        output_dimensionality: int | None,
    ) -> list[list[float]]:
        """One vector per text."""
