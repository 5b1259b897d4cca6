"""One model reply, streamed: history in, events out, the reply stored and metered.

Quota rule (documented in the README): the unit reserved before the call is refunded when the
call fails before any reply text arrived (errors, blocks, cancellation, idle timeout); when a
partial reply was delivered it is kept (committed with the tokens reported so far) and the
partial reply is stored with metadata.status "interrupted" and the error. The caller then gets
an InterruptedReplyError carrying that partial reply, so what is charged is what was delivered.

Event order: "started" first (once every check has passed, the quota unit is reserved and the
model call is about to start), then thought/text deltas, "usage" and "done". Errors known
before "started" are raised with nothing yielded, so front ends can answer them plainly (HTTP:
with their real status); see chat._guarded for the "error" event after it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Callable, Coroutine
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pymongo.asynchronous.database import AsyncDatabase

from apsara_core.clock import Clock
from apsara_core.config import Settings
from apsara_core.errors import ApsaraError, InterruptedReplyError
from apsara_core.models import Principal
from apsara_core.models.views import system_instruction_of
from apsara_core.providers.base import (
    GenerationOptions,
    Provider,
    ProviderChunk,
    ProviderRequest,
    ProviderResult,
)
from apsara_core.repos import messages as msg_repo
from apsara_core.services import chat_store, reply_accounting
from apsara_core.services.chat_files import ChatFiles
from apsara_core.services.chat_history import History, build_history
from apsara_core.services.chat_upstream import Upstream
from apsara_core.services.limits import LimitsService
from apsara_core.services.reply_batches import AccountingBatches

EventKind = Literal["started", "thought", "text", "usage", "done", "error"]
Defer = Callable[[Coroutine[Any, Any, Any], str], "asyncio.Task[Any]"]  # Core.defer
log = logging.getLogger(__name__)


@dataclass
class ChatEvent:
    """One streamed event: thought/text deltas, usage, done (the response) or error."""

    kind: EventKind
    text: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class ReplyJob:
    """Everything one reply needs; `extra` is merged into the response (e.g. branchId).

    `prompt_store`, when set, is the still-running store of the user's message (`prompt` is
    then filled in from it, `prompt_id` is its id): the model call starts alongside it and the
    reply streams while it commits; the reply is never stored before it (and not at all when
    storing it failed: the call then ends with that error, its unit refunded).
    """

    actor: Principal
    conv: dict[str, Any]
    model: str
    provider: Provider
    options: GenerationOptions
    reservation: Any
    request_at: datetime
    prompt: dict[str, Any] | None = None
    prompt_store: asyncio.Future[dict[str, Any]] | None = None
    prompt_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    history: History | None = None
    window: list[dict[str, Any]] | None = None
    started: float = field(default_factory=time.perf_counter)
    first_chunk_ms: float | None = None
    file_stats: dict[str, int] = field(default_factory=dict)  # autoUploads (chat_files)
    upstream: Upstream | None = None  # the model call, when started ahead (ReplyRunner.open)
    accounting: asyncio.Task[Any] | None = None  # the stored reply's follow-up (reply_accounting)


def error_event(exc: BaseException) -> ChatEvent:
    """The "error" event of a failure (an interrupted reply's carries the partial reply)."""
    if isinstance(exc, InterruptedReplyError):
        return ChatEvent(
            "error", exc.message, {"code": exc.code, "message": exc.message, **exc.partial}
        )
    if isinstance(exc, ApsaraError):
        return ChatEvent("error", exc.message, {"code": exc.code, "message": exc.message})
    if isinstance(exc, (asyncio.CancelledError, GeneratorExit)):
        return ChatEvent(
            "error", "cancelled", {"code": "CANCELLED", "message": "The request was cancelled"}
        )
    # A bug: its text may hold internals, so only the code leaves (it is logged where caught).
    return ChatEvent(
        "error", "Internal error", {"code": "INTERNAL_ERROR", "message": "Internal error"}
    )


class ReplyRunner:
    """Runs replies: reads the history, streams the model, stores the reply and meters it."""

    def __init__(
        self,
        *,
        db: AsyncDatabase,
        settings: Settings,
        limits: LimitsService,
        files: ChatFiles,
        clock: Clock,
        defer: Defer,
    ) -> None:
        self._db = db
        self._settings = settings
        self._limits = limits
        self._files = files
        self._clock = clock
        self._defer = defer
        self._batches = AccountingBatches(db, limits)

    async def read_window(self, conversation_id: str, upper: int) -> list[dict[str, Any]]:
        """The newest history_max_messages messages below sequence `upper` (a sequence range)."""
        return await msg_repo.window(
            self._db, conversation_id, upper, self._settings.history_max_messages
        )

    async def load_history(self, job: ReplyJob) -> History:
        """The window ending at the prompt (pre-read or read now), trimmed to the token budget."""
        window = job.window
        if window is None:
            assert job.prompt is not None
            window = await self.read_window(
                job.conv["conversationId"], job.prompt["messageSequence"] + 1
            )
        return self._history(job, window)

    def _history(self, job: ReplyJob, window: list[dict[str, Any]]) -> History:
        count = self._settings.history_max_messages
        unread = 0
        if len(window) >= count:  # older messages exist beyond the window
            unread = max(job.conv["stats"].get("totalMessages", 0) - len(window), 0)
        return build_history(
            window[-count:],
            system_instruction=system_instruction_of(job.conv),
            budget=job.provider.token_budget(job.model),
            unread=unread,
        )

    def _chunks(self, job: ReplyJob) -> AsyncGenerator[ProviderChunk, None]:
        """The model's stream for `job` (its history loaded)."""
        assert job.history is not None
        request = ProviderRequest(
            model=job.model,
            turns=job.history.turns,
            options=job.options,
            system_instruction=system_instruction_of(job.conv),
        )
        return self._files.stream(
            job.provider, request, owner=job.conv["userId"], stats=job.file_stats
        )

    def open(self, job: ReplyJob) -> Upstream:
        """Start the model call now, before `run` (the window is pre-read: `job.window`): the
        chunks wait in `job.upstream` for `run`. Close it when `run` is not reached."""
        assert job.window is not None
        job.history = self._history(job, job.window)
        job.upstream = Upstream(self._chunks(job))
        return job.upstream

    async def run(self, job: ReplyJob) -> AsyncGenerator[ChatEvent, None]:
        """Call the model with the conversation's history, yielding events as they arrive.

        Raises:
            InterruptedReplyError: the call failed after some reply text; the partial reply is
                stored (interrupted, quota kept) and carried by the error.
            ApsaraError: provider failures before any reply text (quota refunded).
            asyncio.CancelledError: the caller went away (the upstream call is closed first).
        """
        result = ProviderResult()
        try:
            yield ChatEvent("started", data=_started(job))
            upstream: Upstream | AsyncGenerator[ProviderChunk, None] | None = job.upstream
            if upstream is None:
                job.history = await self.load_history(job)
                upstream = self._chunks(job)
            async with aclosing(upstream) as chunks:
                async for chunk in chunks:
                    result.add(chunk)
                    if job.prompt_store is not None and job.prompt_store.done():
                        await _stored_prompt(job)  # raises when storing it failed
                    if chunk.kind in ("thought", "text") and chunk.text:
                        if job.first_chunk_ms is None:
                            job.first_chunk_ms = _ms_since(job.started)
                        yield ChatEvent(chunk.kind, chunk.text)
            await _stored_prompt(job)  # the reply is never stored before the user's message
        except BaseException as exc:
            kept = await asyncio.shield(self._settle_failure(job, result, exc))
            if kept is not None and isinstance(exc, Exception):
                raise _interrupted(job, result, kept, exc) from exc
            raise
        try:
            response = await self._finish(job, result)
        except BaseException:
            await asyncio.shield(self._limits.refund(job.reservation))
            raise
        yield ChatEvent("usage", data=response["usageMetadata"])
        yield ChatEvent("done", data=response)
        await _accounted(job)  # a reader that stops at "done" leaves it to run on its own

    async def _finish(self, job: ReplyJob, result: ProviderResult) -> dict[str, Any]:
        """Store the complete reply; its quota unit is committed with its tokens right after
        (`_store_reply`)."""
        doc = _model_doc(job, result, status="complete", now=self._clock.now())
        return _response(job, result, await self._store_reply(job, result, doc))

    async def _store_reply(
        self, job: ReplyJob, result: ProviderResult, doc: dict[str, Any]
    ) -> dict[str, Any]:
        """Append the reply with the pending record of its accounting, in one transaction;
        the accounting itself (the reservation's commit with the tokens) follows in
        `job.accounting`, deferred with the core's other jobs (reply_accounting)."""
        tokens = self._limits.tokens(
            prompt_tokens=result.usage.prompt,
            output_tokens=result.usage.output,
            thoughts_tokens=result.usage.thoughts,
        )
        record = reply_accounting.pending(job.reservation, tokens, doc["createdAt"])
        expected = job.prompt["messageSequence"] if job.prompt is not None else None
        stored = await chat_store.append(
            self._db, doc, tokens=result.usage.total, expected=expected, also=[record]
        )
        job.accounting = self._defer(self._account(record.document), "a reply's accounting")
        self._limits.track(job.conv["userId"], job.accounting)
        return stored

    async def _account(self, record: dict[str, Any]) -> None:
        """Apply a stored reply's accounting: one user's take turns (they would conflict on
        the user's usage documents), applied together when several wait (reply_batches). A
        failure leaves the record for the sweep."""
        await self._batches.apply(record)

    async def _settle_failure(
        self, job: ReplyJob, result: ProviderResult, exc: BaseException
    ) -> dict[str, Any] | None:
        """Keep a partial reply (interrupted, quota kept) or refund when nothing was delivered
        (or when the user's message could not be stored: then no reply is stored either).

        Returns:
            The stored partial reply, or None when the unit was refunded.
        """
        if job.upstream is not None:  # not closed yet when the reader left at "started"
            await job.upstream.aclose()
        if not await _prompt_settled(job) or not result.text:
            await self._limits.refund(job.reservation)
            return None
        doc = _model_doc(
            job, result, status="interrupted", error=error_event(exc).data, now=self._clock.now()
        )
        try:
            stored = await self._store_reply(job, result, doc)
        except Exception:
            await self._limits.refund(job.reservation)
            raise
        await _accounted(job)
        return stored


async def _accounted(job: ReplyJob) -> None:
    """Wait for the stored reply's accounting (its failure is logged by whoever deferred it,
    and its record stays for the sweep)."""
    if job.accounting is not None:
        await asyncio.wait([job.accounting])


async def _stored_prompt(job: ReplyJob) -> None:
    """Wait for the user's message to be stored (raises what storing it raised)."""
    if job.prompt_store is not None:
        job.prompt = await job.prompt_store
        job.prompt_store = None


async def _prompt_settled(job: ReplyJob) -> bool:
    """Wait for the user's message store to end, whatever happens; whether it was stored."""
    try:
        await _stored_prompt(job)
        return True
    except BaseException:
        return False


def _interrupted(
    job: ReplyJob, result: ProviderResult, stored: dict[str, Any], exc: Exception
) -> InterruptedReplyError:
    """The error for a failure after a partial reply was stored: it carries that reply."""
    if not isinstance(exc, ApsaraError):
        log.error("a reply was interrupted by an unexpected error", exc_info=exc)
        exc = ApsaraError("An unexpected error interrupted the reply")
    partial = {k: v for k, v in _response(job, result, stored).items() if k != "success"}
    return InterruptedReplyError(exc, partial)


def _started(job: ReplyJob) -> dict[str, Any]:
    """The "started" event's data: where the reply goes and what it answers."""
    return {
        "conversationId": job.conv["conversationId"],
        "model": job.model,
        "userMessageId": job.prompt_id or (job.prompt or {}).get("messageId"),
        **job.extra,
    }


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _timing(job: ReplyJob) -> dict[str, Any]:
    return {
        "requestAt": job.request_at,
        "firstChunkMs": job.first_chunk_ms,
        "totalMs": _ms_since(job.started),
    }


def _model_doc(
    job: ReplyJob,
    result: ProviderResult,
    *,
    status: str,
    now: datetime,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    content: dict[str, Any] = {"text": result.text}
    if result.thoughts:
        content["thoughts"] = result.thoughts
    if result.function_calls:
        content["functionCalls"] = result.function_calls
    history = job.history or History([], 0, 0)
    metadata: dict[str, Any] = {
        "status": status,
        "timing": _timing(job),
        "tokens": result.usage.to_stored(),
        "provider": {"name": job.provider.name, "model": job.model},
        "finishReason": result.finish_reason,
        "historyMessages": history.history_messages,
        "trimmedMessages": history.trimmed_messages,
    }
    if result.thought_signatures:
        metadata["thoughtSignatures"] = result.thought_signatures
    if error is not None:
        metadata["error"] = error
    return {
        "messageId": msg_repo.new_message_id(),
        "conversationId": job.conv["conversationId"],
        "userId": job.conv["userId"],
        "role": "model",
        "content": content,
        "config": {"model": job.model, **job.options.to_config()},
        "metadata": metadata,
        "isEdited": False,
        "editHistory": [],
        "createdAt": now,
    }


def _response(job: ReplyJob, result: ProviderResult, stored: dict[str, Any]) -> dict[str, Any]:
    meta = stored["metadata"]
    return {
        "success": True,
        "text": result.text,
        "thoughts": result.thoughts,
        "usageMetadata": result.usage.to_metadata(),
        "modelMetadata": {
            "model": job.model,
            "provider": job.provider.name,
            "finishReason": result.finish_reason,
            "historyMessages": meta["historyMessages"],
            "trimmedMessages": meta["trimmedMessages"],
            "filesProcessed": len((job.prompt or {}).get("files") or []),
            "autoUploads": job.file_stats.get("autoUploads", 0),
            "functionCalls": result.function_calls,
            "timing": meta["timing"],
        },
        "userMessageId": (job.prompt or {}).get("messageId"),
        "modelMessageId": stored["messageId"],
        "conversationId": job.conv["conversationId"],
        "messageSequence": stored["messageSequence"],
        **job.extra,
    }
