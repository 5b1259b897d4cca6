"""ChatService: send, edit, regenerate (streamed or whole) and embeddings.

Every call validates everything first (nothing is written on bad input), reserves quota, stores
the user's side, then streams the model's reply through `chat_stream.ReplyRunner.run`. The streaming
methods yield `ChatEvent`s, "started" first. A failure before "started" (bad input, unknown or
foreign conversation, unknown model, quota) is raised with nothing yielded; one after it is
yielded as an "error" event and then raised.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from apsara_core.clock import Clock
from apsara_core.config import Settings
from apsara_core.errors import PayloadTooLargeError, ValidationError
from apsara_core.models import Principal
from apsara_core.providers.base import GenerationOptions, Provider, ProviderRequest
from apsara_core.providers.manager import ProviderManager
from apsara_core.repos import messages as msg_repo
from apsara_core.services import chat_admit, chat_edit
from apsara_core.services.chat_embed import embed_texts
from apsara_core.services.chat_files import ChatFiles
from apsara_core.services.chat_history import parse_files
from apsara_core.services.chat_prefetch import WindowPrefetch
from apsara_core.services.chat_stateless import parse_messages, stream_stateless
from apsara_core.services.chat_stream import (
    ChatEvent,
    Defer,
    ReplyJob,
    ReplyRunner,
    error_event,
)
from apsara_core.services.conversations import load_owned
from apsara_core.services.input_checks import check_unicode
from apsara_core.services.limits import LimitsService
from apsara_core.services.provider_catalog import ProviderCatalog
from apsara_core.vocabulary import BUILTIN_PROVIDER, DEFAULT_EMBEDDING_MODEL, DEFAULT_MODEL

__all__ = ["ChatEvent", "ChatService", "DEFAULT_MODEL", "DEFAULT_EMBEDDING_MODEL"]


def check_text(value: Any, limit: int, field: str = "text") -> str:
    """Message text: a non-blank string of at most `limit` characters.

    Raises:
        ValidationError: not a string, blank, or not valid Unicode (a lone surrogate).
        PayloadTooLargeError: longer than the limit (APSARA_MAX_MESSAGE_CHARS).
    """
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be a string; got {type(value).__name__}", field=field)
    if not check_unicode(value, field).strip():
        raise ValidationError(f"{field} must not be empty", field=field)
    if len(value) > limit:
        raise PayloadTooLargeError(
            f"{field} is {len(value)} characters; the limit is {limit}",
            field=field,
            suggestions=["Shorten the message or split it"],
        )
    return value


async def collect(events: AsyncGenerator[ChatEvent, None]) -> dict[str, Any]:
    """The "done" response of a stream (errors raise). It returns at "done": the reply's
    usage accounting then goes on by itself (services/reply_accounting.py)."""
    async with aclosing(events) as stream:
        async for event in stream:
            if event.kind == "done":
                return event.data
    return {}


async def _guarded(
    events: AsyncGenerator[ChatEvent, None],
) -> AsyncGenerator[ChatEvent, None]:
    """Pass events through. A failure after the first event ("started") is also yielded as an
    "error" event, then raised; one before it is only raised, so that a front end can still
    answer it as a plain error (HTTP: its status and envelope instead of a stream)."""
    started = False
    async with aclosing(events) as inner:
        try:
            async for event in inner:
                started = True
                yield event
        except Exception as exc:
            if started:
                yield error_event(exc)
            raise


class ChatService:
    """Generate, stream, edit, regenerate, embed."""

    def __init__(
        self,
        *,
        db: AsyncDatabase,
        settings: Settings,
        limits: LimitsService,
        providers: ProviderManager,
        catalog: ProviderCatalog,
        files: ChatFiles,
        clock: Clock,
        defer: Defer,
    ) -> None:
        self._db = db
        self._catalog = catalog
        self._settings = settings
        self._limits = limits
        self._providers = providers
        self._files = files
        self._clock = clock
        self._replies = ReplyRunner(
            db=db, settings=settings, limits=limits, files=files, clock=clock, defer=defer
        )
        self._prefetch = WindowPrefetch(db, settings.history_max_messages)

    async def _model(
        self, model: Any, config: Any, files: Any = None
    ) -> tuple[Provider, GenerationOptions]:
        """The provider of `model` (declared instances included) and the validated config.

        Raises:
            ValidationError: unknown model, bad config, or files for a model that reads none.
        """
        await self._catalog.sync()
        provider = self._providers.for_model(model)
        options = GenerationOptions.from_config(config, thinking=provider.thinks(model))
        if files and provider.name != BUILTIN_PROVIDER:
            raise ValidationError(
                f"{model} does not read files; only the built-in Gemini models do", field="files"
            )
        provider.check_ready()
        return provider, options

    async def _reserve(self, actor: Principal, model: str) -> Any:
        return await self._limits.reserve(actor=actor, model=model)

    def stream(
        self,
        *,
        actor: Principal,
        conversation_id: Any,
        text: Any,
        model: Any = DEFAULT_MODEL,
        config: Any = None,
        files: Any = None,
    ) -> AsyncGenerator[ChatEvent, None]:
        """Send a message and stream the reply (thought, text, usage, done | error)."""
        return _guarded(self._send(actor, conversation_id, text, model, config, files))

    async def generate(self, **kwargs: Any) -> dict[str, Any]:
        """`stream` collected: the spec's response dict plus the stored message ids."""
        return await collect(self.stream(**kwargs))

    async def _send(
        self, actor: Principal, conversation_id: Any, text: Any, model: Any, config: Any, files: Any
    ) -> AsyncGenerator[ChatEvent, None]:
        started, request_at = time.perf_counter(), self._clock.now()
        text = check_text(text, self._settings.max_message_chars)
        ahead = self._prefetch.start(conversation_id)  # the window, alongside the conversation
        try:
            provider, options = await self._model(model, config, files)
            file_parts = parse_files(files)
            conv = await load_owned(self._db, actor, conversation_id)
            window = await self._prefetch.window(ahead, conv) if ahead is not None else None
        except BaseException:
            await asyncio.shield(self._prefetch.drop(ahead))
            raise
        file_parts = await self._files.attach(conv["userId"], file_parts)
        user_doc = self._user_doc(conv, text, file_parts, model, options, request_at)
        job = ReplyJob(
            actor,
            conv,
            model,
            provider,
            options,
            None,
            prompt_id=user_doc["messageId"],
            request_at=request_at,
            started=started,
        )
        await chat_admit.admit(self._limits, self._replies, self._db, job, user_doc, window)
        async with aclosing(self._replies.run(job)) as events:
            async for event in events:
                if event.kind == "done":
                    self._prefetch.remember(conv["conversationId"], event.data["messageSequence"])
                yield event

    def _user_doc(
        self,
        conv: dict[str, Any],
        text: str,
        files: list[dict[str, str]],
        model: str,
        options: GenerationOptions,
        request_at: Any,
    ) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "messageId": msg_repo.new_message_id(),
            "conversationId": conv["conversationId"],
            "userId": conv["userId"],
            "role": "user",
            "content": {"text": text},
            "config": {"model": model, **options.to_config()},
            "metadata": {"status": "complete", "timing": {"requestAt": request_at}},
            "isEdited": False,
            "editHistory": [],
            "createdAt": request_at,
        }
        if files:
            doc["files"] = files
        return doc

    def stream_edit(
        self,
        *,
        actor: Principal,
        conversation_id: Any,
        message_id: Any,
        new_text: Any,
        model: Any = DEFAULT_MODEL,
        config: Any = None,
        files: Any = None,
    ) -> AsyncGenerator[ChatEvent, None]:
        """Edit a user message (later messages archived as a branch) and stream a new reply."""
        return _guarded(
            self._edit(actor, conversation_id, message_id, new_text, model, config, files)
        )

    async def edit(self, **kwargs: Any) -> dict[str, Any]:
        """`stream_edit` collected; the response carries branchId and editedMessageId."""
        return await collect(self.stream_edit(**kwargs))

    async def _edit(
        self,
        actor: Principal,
        conversation_id: Any,
        message_id: Any,
        new_text: Any,
        model: Any,
        config: Any,
        files: Any,
    ) -> AsyncGenerator[ChatEvent, None]:
        started, request_at = time.perf_counter(), self._clock.now()
        text = check_text(new_text, self._settings.max_message_chars, field="newText")
        provider, options = await self._model(model, config, files)
        file_parts = parse_files(files) if files is not None else None
        conv = await load_owned(self._db, actor, conversation_id)
        if file_parts is not None:
            file_parts = await self._files.attach(conv["userId"], file_parts)
        message = await chat_edit.editable(self._db, conv, message_id)
        chat_edit.check_changed(message, text, file_parts)
        reservation = await self._reserve(actor, model)
        try:
            prompt, branch = await chat_edit.apply_edit(
                self._db, conv, message, text, file_parts, now=self._clock.now()
            )
        except BaseException:
            await self._limits.refund(reservation)
            raise
        job = ReplyJob(
            actor,
            conv,
            model,
            provider,
            options,
            reservation,
            prompt=prompt,
            request_at=request_at,
            started=started,
            extra={"branchId": branch, "editedMessageId": prompt["messageId"]},
        )
        async with aclosing(self._replies.run(job)) as events:
            async for event in events:
                yield event

    def stream_regenerate(
        self,
        *,
        actor: Principal,
        conversation_id: Any,
        message_id: Any = None,
        model: Any = DEFAULT_MODEL,
        config: Any = None,
        files: Any = None,
    ) -> AsyncGenerator[ChatEvent, None]:
        """Archive a model reply (the last, or message_id) and stream a new one. `files`, when
        given, replace the files of the user message answered (kept in its edit history)."""
        return _guarded(self._regenerate(actor, conversation_id, message_id, model, config, files))

    async def regenerate(self, **kwargs: Any) -> dict[str, Any]:
        """`stream_regenerate` collected; carries branchId and regeneratedMessageId."""
        return await collect(self.stream_regenerate(**kwargs))

    async def _regenerate(
        self,
        actor: Principal,
        conversation_id: Any,
        message_id: Any,
        model: Any,
        config: Any,
        files: Any = None,
    ) -> AsyncGenerator[ChatEvent, None]:
        started, request_at = time.perf_counter(), self._clock.now()
        provider, options = await self._model(model, config, files)
        file_parts = parse_files(files) if files is not None else None
        conv = await load_owned(self._db, actor, conversation_id)
        target, prompt = await chat_edit.regenerate_target(self._db, conv, message_id)
        if file_parts is not None:
            file_parts = await self._files.attach(conv["userId"], file_parts)
            if prompt["role"] != "user":
                raise ValidationError(
                    "Only a reply to a user message can be regenerated with files", field="files"
                )
        reservation = await self._reserve(actor, model)
        try:
            if file_parts is not None:  # the prompt takes the files; what follows is archived
                prompt, branch = await chat_edit.apply_edit(
                    self._db,
                    conv,
                    prompt,
                    prompt["content"].get("text", ""),
                    file_parts,
                    now=self._clock.now(),
                )
            else:
                branch = (
                    await chat_edit.archive_reply(self._db, conv, target, now=self._clock.now())
                    if target
                    else None
                )
        except BaseException:
            await self._limits.refund(reservation)
            raise
        extra = {
            "branchId": branch,
            "regeneratedMessageId": target["messageId"] if target else None,
        }
        job = ReplyJob(
            actor,
            conv,
            model,
            provider,
            options,
            reservation,
            prompt=prompt,
            request_at=request_at,
            started=started,
            extra=extra,
        )
        async with aclosing(self._replies.run(job)) as events:
            async for event in events:
                yield event

    def stream_stateless(
        self, *, actor: Principal, messages: Any, model: Any, config: Any = None
    ) -> AsyncGenerator[ChatEvent, None]:
        """Answer a whole history sent by the caller (OpenAI chat messages), nothing stored
        but the quota: events as `stream`'s (conversationId None)."""
        return _guarded(self._stateless(actor, messages, model, config))

    async def _stateless(
        self, actor: Principal, messages: Any, model: Any, config: Any
    ) -> AsyncGenerator[ChatEvent, None]:
        system, turns = parse_messages(messages, self._settings.max_message_chars)
        provider, options = await self._model(model, config)
        request = ProviderRequest(
            model=model, turns=turns, system_instruction=system, options=options
        )
        events = stream_stateless(
            limits=self._limits, actor=actor, provider=provider, request=request
        )
        async with aclosing(events) as inner:
            async for event in inner:
                yield event

    async def embed(
        self,
        *,
        actor: Principal,
        texts: Any,
        model: Any = DEFAULT_EMBEDDING_MODEL,
        task_type: Any = None,
        output_dimensionality: Any = None,
    ) -> dict[str, Any]:
        """Embed a batch of texts: {"embeddings": [[float]], "model"} (metered like generation)."""
        await self._catalog.sync()
        return await embed_texts(
            providers=self._providers,
            limits=self._limits,
            max_chars=self._settings.max_message_chars,
            actor=actor,
            texts=texts,
            model=model,
            task_type=task_type,
            output_dimensionality=output_dimensionality,
        )
