"""PluginService: list and describe plugins, call one (sync, or queued as a durable job), and
run a queued job (the worker's side).

A call stores a `tool` message (plugin, parameters, timing, status, result or error) in the
conversation; with sendToModel the model answers it through the chat path (metered: reserve,
refund on failure) and its reply is stored as a model message. What a call writes is keyed by
its call id (a job's id), so a job run again after a crash writes each message once.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from apsara_core.clock import Clock
from apsara_core.errors import ApsaraError, NotFoundError, PluginCallError, ValidationError
from apsara_core.models import Principal
from apsara_core.plugins import Plugin, PluginContext, PluginRegistry
from apsara_core.providers.manager import ProviderManager
from apsara_core.repos import messages as msg_repo
from apsara_core.repos import users as user_repo
from apsara_core.services import chat_store
from apsara_core.services.chat import ChatService
from apsara_core.services.conversations import ConversationService, load_owned
from apsara_core.services.plugin_exec import (
    Outcome,
    execute,
    outcome_of,
    tool_doc,
    validate_params,
)
from apsara_core.services.plugin_jobs import JobQueue, JobSpec
from apsara_core.vocabulary import DEFAULT_MODEL

log = logging.getLogger(__name__)


def _flag(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(f"{field} must be true or false", field=field)
    return value


def _model_response(reply: dict[str, Any]) -> dict[str, Any]:
    keep = ("text", "thoughts", "modelMessageId", "usageMetadata", "modelMetadata")
    return {k: reply[k] for k in keep if k in reply}


@dataclass(frozen=True)
class _Call:
    """One plugin call: who makes it, where, with what; a job's id is also its call id."""

    actor: Principal
    conv: dict[str, Any]
    plugin: Plugin
    params: BaseModel
    call_id: str
    job_id: str | None


class PluginService:
    """Plugins: list, show, call; `run_job` is what a Worker runs for each claimed job."""

    def __init__(
        self,
        *,
        db: AsyncDatabase,
        registry: PluginRegistry,
        chat: ChatService,
        conversations: ConversationService,
        providers: ProviderManager,
        jobs: JobQueue,
        clock: Clock,
    ) -> None:
        self._db = db
        self.registry = registry
        self._chat = chat
        self._conversations = conversations
        self._providers = providers
        self.jobs = jobs
        self._clock = clock

    def list(self, provider: Any = None) -> dict[str, Any]:
        """{plugins: [describe()], broken: [...], providers: [...]} (of one provider)."""
        if provider is not None and provider not in self.registry.providers():
            self.registry.get(provider, None)  # raises, listing the providers
        return {
            "plugins": [p.describe() for p in self.registry.all(provider)],
            "broken": [b.describe() for b in self.registry.broken],
            "providers": self.registry.providers(),
        }

    def show(self, provider: Any, name: Any) -> dict[str, Any]:
        """One plugin's description and parameter schema."""
        return self.registry.get(provider, name).describe()

    def check(self, provider: Any, name: Any, parameters: Any) -> dict[str, Any]:
        """The parameters as the plugin would take them (for forms validating as you type).

        Raises:
            NotFoundError: unknown provider or plugin.
            ValidationError: a missing, extra or wrongly typed parameter, named.
        """
        found = self.registry.get(provider, name)
        return validate_params(found, parameters).model_dump(mode="json")

    async def _conversation(
        self, actor: Principal, conversation_id: Any, plugin: Plugin
    ) -> dict[str, Any]:
        if conversation_id is None:
            made = await self._conversations.create(actor=actor, title=f"Plugin {plugin.key}")
            conversation_id = made["conversationId"]
        return await load_owned(self._db, actor, conversation_id)

    async def call(
        self,
        *,
        actor: Principal,
        provider: Any,
        plugin: Any,
        parameters: Any = None,
        conversation_id: Any = None,
        send_to_model: Any = False,
        run_async: Any = False,
        idempotency_key: Any = None,
        model: Any = DEFAULT_MODEL,
    ) -> dict[str, Any]:
        """Call a plugin. Sync: {success, result, toolMessageId, conversationId, durationMs,
        modelResponse? | modelError?}. Async: {success, jobId, status "queued", conversationId}.

        Raises:
            NotFoundError: unknown provider/plugin (listing what exists) or conversation.
            ValidationError: bad parameters (naming the field) or flags.
            PluginCallError: the plugin failed; its tool message was stored.
        """
        found = self.registry.get(provider, plugin)
        params = validate_params(found, parameters)
        send = _flag(send_to_model, "sendToModel")
        if _flag(run_async, "runAsync") and not found.may_run_async:
            raise ValidationError(f"{found.key} cannot run async", field="runAsync")
        if send:
            self._providers.for_model(model).check_ready()
        conv = await self._conversation(actor, conversation_id, found)
        if run_async:
            spec = JobSpec(
                provider=found.provider,
                plugin=found.name,
                parameters=params.model_dump(mode="json"),
                conversation_id=conv["conversationId"],
                send_to_model=send,
                model=model,
                idempotency_key=idempotency_key,
            )
            job = await self.jobs.enqueue(actor=actor, spec=spec)
            return {
                "success": True,
                "jobId": job["jobId"],
                "status": job["status"],
                "conversationId": conv["conversationId"],
            }
        call_id = "call_" + secrets.token_hex(12)
        run = _Call(actor, conv, found, params, call_id, None)
        done = await self._run_call(run, send, model)
        if done.get("error") is not None:
            raise PluginCallError(_cause(done["error"]), _stored_part(done)) from None
        return {"success": True, **{k: v for k, v in done.items() if k != "error"}}

    async def _run_call(self, call: _Call, send: bool, model: str) -> dict[str, Any]:
        """Run (or, on a re-run, find) the call's tool message, then the model's answer."""
        tool = await self._tool_message(call)
        conv = call.conv
        outcome = outcome_of(tool)
        done: dict[str, Any] = {
            "result": outcome.result,
            "error": outcome.error,
            "toolMessageId": tool["messageId"],
            "conversationId": conv["conversationId"],
            "durationMs": outcome.duration_ms,
        }
        if send and outcome.status == "succeeded":
            try:
                done["modelResponse"] = await self._answer(call.actor, conv, tool, model)
            except ApsaraError as exc:
                done["modelError"] = {"code": exc.code, "message": exc.message}
        return done

    async def _tool_message(self, call: _Call) -> dict[str, Any]:
        message_id = f"msg_{call.call_id}"
        if (existing := await msg_repo.by_id(self._db, message_id)) is not None:
            return existing  # a re-run of a job: the plugin already ran and was recorded
        ctx = PluginContext(call.actor.user_id, call.conv["conversationId"], call.call_id)
        outcome: Outcome = await execute(call.plugin, call.params, ctx, self._clock.now())
        doc = tool_doc(
            message_id=message_id,
            conv=call.conv,
            plugin=call.plugin,
            params=call.params,
            outcome=outcome,
            call_id=call.call_id,
            job_id=call.job_id,
            now=self._clock.now(),
        )
        try:
            return await chat_store.append(self._db, doc)
        except DuplicateKeyError:  # a racing run of the same job stored it first
            stored = await msg_repo.by_id(self._db, message_id)
            if stored is None:
                raise
            return stored

    async def _answer(
        self, actor: Principal, conv: dict[str, Any], tool: dict[str, Any], model: str
    ) -> dict[str, Any]:
        """The model's reply to the tool message: the stored one on a re-run, else a new one."""
        after = await msg_repo.at_sequence(
            self._db, conv["conversationId"], tool["messageSequence"] + 1
        )
        if after is not None and after["role"] == "model":
            return {"text": after["content"].get("text", ""), "modelMessageId": after["messageId"]}
        reply = await self._chat.regenerate(
            actor=actor,
            conversation_id=conv["conversationId"],
            message_id=tool["messageId"],
            model=model,
        )
        return _model_response(reply)

    async def run_job(self, job: dict[str, Any]) -> dict[str, Any]:
        """Run a claimed job; the fields of its final state (never raises an ApsaraError)."""
        try:
            actor = await self._owner(job["userId"])
            found = self.registry.get(job["provider"], job["plugin"])
            params = validate_params(found, job["parameters"])
            conv = await load_owned(self._db, actor, job["conversationId"])
            run = _Call(actor, conv, found, params, job["jobId"], job["jobId"])
            done = await self._run_call(run, job["sendToModel"], job.get("model") or DEFAULT_MODEL)
        except ApsaraError as exc:
            return {"status": "failed", "error": {"code": exc.code, "message": exc.message}}
        return self.jobs.final_fields(done)

    async def _owner(self, user_id: str) -> Principal:
        doc = await user_repo.find_by_id(self._db, user_id)
        if doc is None:
            raise NotFoundError(f"The job's user {user_id} no longer exists", field="userId")
        return Principal.of_user(doc)


def _cause(error: dict[str, Any]) -> ApsaraError:
    """An ApsaraError carrying a stored error's code and message (status from its code)."""
    from apsara_core.errors import PluginError, PluginTimeoutError

    kinds: dict[str, type[ApsaraError]] = {
        "VALIDATION_ERROR": ValidationError,
        "PLUGIN_TIMEOUT": PluginTimeoutError,
    }
    cls = kinds.get(error["code"], PluginError)
    return cls(error["message"], code=error["code"], field=error.get("field"))


def _stored_part(done: dict[str, Any]) -> dict[str, Any]:
    return {"toolMessageId": done["toolMessageId"], "conversationId": done["conversationId"]}
