"""Chat without a stored conversation (the OpenAI-compatible endpoint without `conversation`):
the caller sends the whole history; the call is metered by the same plans and quota rule.

The unit reserved before the call is refunded when it fails before any reply text, else
committed with the tokens reported (a partial reply was delivered). Nothing is stored but
the usage counters.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator
from typing import Any

from apsara_core.errors import ValidationError
from apsara_core.models import Principal
from apsara_core.providers.base import GenerationOptions, ProviderRequest, ProviderResult, Turn
from apsara_core.services.chat_stream import ChatEvent
from apsara_core.services.input_checks import check_unicode
from apsara_core.services.limits import LimitsService

ROLES = ("system", "developer", "user", "assistant", "tool")
MAX_MESSAGES = 1000


def _text(content: Any, field: str) -> str:
    """The text of a message content: a string or a list of {"type": "text", "text"} parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return check_unicode(content, field)
    if isinstance(content, list) and all(
        isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
        for p in content
    ):
        return check_unicode("".join(p["text"] for p in content), field)
    raise ValidationError(
        f"{field} must be a string or a list of text parts (images are not read yet)",
        field=field,
    )


def parse_messages(messages: Any, max_chars: int) -> tuple[str | None, list[Turn]]:
    """(system instruction, turns) from OpenAI chat messages; the last must be the user's.

    Raises:
        ValidationError: naming messages[i] and what was expected.
    """
    if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_MESSAGES:
        raise ValidationError(
            f"messages must be a list of 1 to {MAX_MESSAGES} messages", field="messages"
        )
    system: list[str] = []
    turns: list[Turn] = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            raise ValidationError(
                f"messages[{i}].role must be one of {', '.join(ROLES)}", field=f"messages[{i}].role"
            )
        text = _text(m.get("content"), f"messages[{i}].content")
        if len(text) > max_chars:
            raise ValidationError(
                f"messages[{i}].content is over {max_chars} characters", field=f"messages[{i}]"
            )
        if m["role"] in ("system", "developer"):
            system.append(text)
        elif m["role"] == "assistant":
            turns.append(Turn("model", text))
        else:
            turns.append(Turn("user", ("[tool result] " if m["role"] == "tool" else "") + text))
    if not turns or turns[-1].role != "user" or not turns[-1].text.strip():
        raise ValidationError("The last message must be a non-empty user message", field="messages")
    return ("\n\n".join(system) or None), turns


async def stream_stateless(
    *,
    limits: LimitsService,
    actor: Principal,
    provider: Any,
    request: ProviderRequest,
) -> AsyncGenerator[ChatEvent, None]:
    """Reserve, stream the provider's answer as ChatEvents (started, thought/text, usage,
    done), then commit the tokens; refund when nothing was delivered."""
    started = time.perf_counter()
    reservation = await limits.reserve(actor=actor, model=request.model)
    result = ProviderResult()
    try:
        yield ChatEvent("started", data={"model": request.model, "conversationId": None})
        async for chunk in provider.stream(request):
            result.add(chunk)
            if chunk.kind in ("thought", "text") and chunk.text:
                yield ChatEvent(chunk.kind, chunk.text)
    except BaseException:
        if result.text:
            await _commit(limits, reservation, result)
        else:
            await limits.refund(reservation)
        raise
    await _commit(limits, reservation, result)
    usage = result.usage.to_metadata()
    yield ChatEvent("usage", data=usage)
    yield ChatEvent(
        "done",
        data={
            "success": True,
            "text": result.text,
            "thoughts": result.thoughts,
            "usageMetadata": usage,
            "modelMetadata": {
                "model": request.model,
                "provider": provider.name,
                "finishReason": result.finish_reason,
                "functionCalls": result.function_calls,
                "timing": {"totalMs": round((time.perf_counter() - started) * 1000, 2)},
            },
            "conversationId": None,
        },
    )


async def _commit(limits: LimitsService, reservation: Any, result: ProviderResult) -> None:
    await limits.commit(
        reservation,
        prompt_tokens=result.usage.prompt,
        output_tokens=result.usage.output,
        thoughts_tokens=result.usage.thoughts,
    )


UNSUPPORTED = ("tools", "functions", "tool_choice", "n", "response_format", "audio")


def openai_config(body: dict[str, Any]) -> dict[str, Any]:
    """Our camelCase config from an OpenAI chat request's sampling fields, checked by
    GenerationOptions' rules; reasoning is always asked for, so thinking models stream it.

    Raises:
        ValidationError: a field Apsara does not support yet (tools, n > 1, ...), or a bad
            sampling value, named as the caller sent it (temperature, top_p, max_tokens or
            max_completion_tokens, stop).
    """
    for key in UNSUPPORTED:
        if body.get(key) not in (None, 1, [], {"type": "text"}):
            raise ValidationError(
                f"{key} is not supported by Apsara's OpenAI-compatible endpoint yet", field=key
            )
    limit = "max_completion_tokens" if "max_completion_tokens" in body else "max_tokens"
    sent = {
        "temperature": "temperature",
        "topP": "top_p",
        "maxOutputTokens": limit,
        "stopSequences": "stop",
    }
    sampling = {ours: body[theirs] for ours, theirs in sent.items() if body.get(theirs) is not None}
    if isinstance(sampling.get("stopSequences"), str):
        sampling["stopSequences"] = [sampling["stopSequences"]]
    try:  # checked here too, so that an error names the field the caller sent
        GenerationOptions.from_config(sampling, thinking=False)
    except ValidationError as exc:
        theirs = sent.get((exc.field or "").removeprefix("config."))
        if theirs is None or exc.field is None:
            raise
        raise ValidationError(exc.message.replace(exc.field, theirs, 1), field=theirs) from None
    return {"thinkingConfig": {"includeThoughts": True}, **sampling}
