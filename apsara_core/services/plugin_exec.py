"""Running one plugin call: parameters checked against its model, the run bounded by its
timeout, the result checked (JSON, at most 1 MiB), and the outcome as a `tool` message.

A plain (non-async) `run` executes in a worker thread, so a slow plugin never blocks the event
loop; on timeout the caller gets its answer at once, while the thread itself runs to its end
(Python cannot stop a thread).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from apsara_core.errors import ApsaraError, PluginError, PluginTimeoutError, ValidationError
from apsara_core.plugins import Plugin, PluginContext
from apsara_core.services.inputs import parse

MAX_RESULT_BYTES = 1 << 20
TEXT_PREVIEW_CHARS = 20_000
log = logging.getLogger(__name__)


def validate_params(plugin: Plugin, parameters: Any) -> BaseModel:
    """`parameters` checked against the plugin's model.

    Raises:
        ValidationError: not an object, or a missing, extra or wrongly typed field, named as
            `parameters.<field>`, with the expected fields in the details.
    """
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, dict):
        raise ValidationError(
            f"parameters must be an object; got {type(parameters).__name__}", field="parameters"
        )
    fields = ", ".join(plugin.parameters.model_fields)
    try:
        return parse(plugin.parameters, parameters)
    except ValidationError as exc:
        name = f"parameters.{exc.field}" if exc.field else "parameters"
        raise ValidationError(
            f"parameters.{exc.message}",
            field=name,
            details=f"{plugin.key} takes: {fields}",
            suggestions=[f"apsara plugin show {plugin.key}"],
        ) from None


@dataclass
class Outcome:
    """What one run gave: `result_json` on success, `error` ({code, message, field?}) if not."""

    status: str  # succeeded | failed
    started_at: datetime
    duration_ms: float
    result_json: str | None = None
    error: dict[str, Any] | None = None

    @property
    def result(self) -> Any:
        """The decoded result (None on failure)."""
        return None if self.result_json is None else json.loads(self.result_json)


def encode_result(plugin: Plugin, value: Any) -> str:
    """The result as JSON text.

    Raises:
        PluginError: not JSON-serialisable (or NaN/infinite), or over 1 MiB encoded.
    """
    try:
        text = json.dumps(value, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError) as exc:
        raise PluginError(
            f"{plugin.key} returned a result that is not JSON-serialisable: {exc}",
            code="PLUGIN_BAD_RESULT",
        ) from None
    size = len(text.encode())
    if size > MAX_RESULT_BYTES:
        raise PluginError(
            f"{plugin.key} returned {size} bytes of JSON; the limit is {MAX_RESULT_BYTES} (1 MiB)",
            code="PLUGIN_RESULT_TOO_LARGE",
            suggestions=["Return less, or store the data and return a reference"],
        )
    return text


def error_of(exc: ApsaraError) -> dict[str, Any]:
    """The stored form of a failure."""
    error: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if exc.field:
        error["field"] = exc.field
    return error


async def _call(plugin: Plugin, params: BaseModel, ctx: PluginContext) -> Any:
    if inspect.iscoroutinefunction(plugin.run):
        return await plugin.run(params, ctx)
    value = await asyncio.to_thread(plugin.run, params, ctx)
    return await value if inspect.isawaitable(value) else value


async def execute(plugin: Plugin, params: BaseModel, ctx: PluginContext, now: datetime) -> Outcome:
    """Run the plugin within its timeout; every failure becomes an `Outcome` with an error."""
    started = time.perf_counter()

    def done(**kw: Any) -> Outcome:
        ms = round((time.perf_counter() - started) * 1000, 2)
        return Outcome(started_at=now, duration_ms=ms, **kw)

    try:
        async with asyncio.timeout(plugin.timeout_s):
            value = await _call(plugin, params, ctx)
        return done(status="succeeded", result_json=encode_result(plugin, value))
    except TimeoutError:
        err: ApsaraError = PluginTimeoutError(
            f"{plugin.key} did not finish within its {plugin.timeout_s:g} s timeout"
        )
    except ApsaraError as exc:
        err = exc
    except Exception as exc:  # a plugin's bug is its call's failure, never the server's
        log.warning("plugin %s raised", plugin.key, exc_info=exc)
        err = PluginError(f"{plugin.key} raised {type(exc).__name__}: {str(exc)[:500]}")
    return done(status="failed", error=error_of(err))


def tool_text(plugin: Plugin, params_json: str, outcome: Outcome) -> str:
    """The tool message's text, as the model reads it."""
    head = f"{plugin.key} called with {params_json}"
    if outcome.result_json is None:
        assert outcome.error is not None
        return f"{head} failed: {outcome.error['message']}"
    body = outcome.result_json
    if len(body) > TEXT_PREVIEW_CHARS:
        body = body[:TEXT_PREVIEW_CHARS] + f"... (truncated; {len(outcome.result_json)} chars)"
    return f"{head} returned {body}"


def tool_doc(
    *,
    message_id: str,
    conv: dict[str, Any],
    plugin: Plugin,
    params: BaseModel,
    outcome: Outcome,
    call_id: str,
    job_id: str | None,
    now: datetime,
) -> dict[str, Any]:
    """The `tool` message of a call (parameters and result kept as JSON text: BSON holds
    neither integers over 64 bits nor every key a plugin may return)."""
    params_json = json.dumps(params.model_dump(mode="json"), ensure_ascii=False)
    plugin_meta: dict[str, Any] = {
        "provider": plugin.provider,
        "name": plugin.name,
        "callId": call_id,
        "jobId": job_id,
        "status": outcome.status,
        "parametersJson": params_json,
        "resultJson": outcome.result_json,
        "error": outcome.error,
        "timing": {"startedAt": outcome.started_at, "durationMs": outcome.duration_ms},
    }
    return {
        "messageId": message_id,
        "conversationId": conv["conversationId"],
        "userId": conv["userId"],
        "role": "tool",
        "content": {"text": tool_text(plugin, params_json, outcome)},
        "config": {},
        "metadata": {"status": "complete", "plugin": plugin_meta},
        "isEdited": False,
        "editHistory": [],
        "createdAt": now,
    }


def outcome_of(message: dict[str, Any]) -> Outcome:
    """The outcome recorded in a stored tool message (a re-run reuses it)."""
    meta = message["metadata"]["plugin"]
    return Outcome(
        status=meta["status"],
        started_at=meta["timing"]["startedAt"],
        duration_ms=meta["timing"]["durationMs"],
        result_json=meta.get("resultJson"),
        error=meta.get("error"),
    )
