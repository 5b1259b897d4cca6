"""Plugin endpoints: /api/plugins/list_plugins, /api/plugins/{provider},
/api/plugins/{provider}/{plugin}/send, and the jobs: /api/plugins/jobs[/{id}[/cancel]].

Jobs are their owner's: another user's job answers 404 (admins see every job).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, StrictBool, StrictStr
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from apsara_core.http import openapi_plugins as docs
from apsara_core.http.deps import acting_for, core_of, ok, read_json, require_actor
from apsara_core.http.openapi_files import documented
from apsara_core.http.schemas import JSON_VALUE, Body, Id
from apsara_core.vocabulary import DEFAULT_MODEL


class PluginSendBody(Body):
    userId: Id | None = None
    conversationId: StrictStr | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    sendToModel: StrictBool = False
    runAsync: StrictBool = False
    idempotencyKey: StrictStr | None = Field(None, min_length=1, max_length=200)
    model: StrictStr = DEFAULT_MODEL


def _send_schema() -> dict[str, Any]:
    """The send body's schema; `parameters` holds JSON values the services can store."""
    schema = PluginSendBody.model_json_schema()
    schema["properties"]["parameters"]["additionalProperties"] = JSON_VALUE
    return schema


async def list_plugins(request: Request) -> JSONResponse:
    """Every plugin (provider, name, description, parameter schema)."""
    await require_actor(request)
    return ok(**core_of(request).plugins.list())


async def provider_plugins(request: Request) -> JSONResponse:
    """The plugins of one provider."""
    await require_actor(request)
    provider = request.path_params["provider"]
    found = core_of(request).plugins.list(provider)
    return ok(provider=provider, plugins=found["plugins"])


async def send(request: Request) -> JSONResponse:
    """Call a plugin: the result at once (runAsync false) or a job id (runAsync true)."""
    body = await read_json(request, PluginSendBody)
    actor = await acting_for(request, body.userId)
    result = await core_of(request).plugins.call(
        actor=actor,
        provider=request.path_params["provider"],
        plugin=request.path_params["plugin"],
        parameters=body.parameters,
        conversation_id=body.conversationId,
        send_to_model=body.sendToModel,
        run_async=body.runAsync,
        idempotency_key=body.idempotencyKey or request.headers.get("idempotency-key"),
        model=body.model,
    )
    result.pop("success", None)
    return ok(202 if "jobId" in result else 200, **result)


async def get_job(request: Request) -> JSONResponse:
    """One job: status, attempts, result or error."""
    actor = await require_actor(request)
    job = await core_of(request).jobs.get(actor=actor, job_id=request.path_params["job_id"])
    return ok(job=job)


async def list_jobs(request: Request) -> JSONResponse:
    """The caller's jobs, newest first (?status=, ?limit=)."""
    actor = await require_actor(request)
    q = request.query_params
    limit: Any = q.get("limit", "50")
    limit = int(limit) if limit.isdigit() else limit
    jobs = await core_of(request).jobs.list(actor=actor, status=q.get("status"), limit=limit)
    return ok(jobs=jobs, count=len(jobs))


async def cancel_job(request: Request) -> JSONResponse:
    """Cancel a queued job, or stop a running one."""
    actor = await require_actor(request)
    job = await core_of(request).jobs.cancel(actor=actor, job_id=request.path_params["job_id"])
    return ok(job=job)


ROUTES = [
    Route("/plugins/list_plugins", documented(list_plugins, docs.LIST_DOC), methods=["GET"]),
    Route("/plugins/jobs", documented(list_jobs, docs.JOBS_DOC), methods=["GET"]),
    Route("/plugins/jobs/{job_id}", documented(get_job, docs.JOB_DOC), methods=["GET"]),
    Route(
        "/plugins/jobs/{job_id}/cancel", documented(cancel_job, docs.CANCEL_DOC), methods=["POST"]
    ),
    Route("/plugins/{provider}", documented(provider_plugins, docs.PROVIDER_DOC), methods=["GET"]),
    Route(
        "/plugins/{provider}/{plugin}/send",
        documented(send, docs.send_doc(_send_schema())),
        methods=["POST"],
    ),
]
