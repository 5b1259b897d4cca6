"""OpenAPI descriptions of the plugin endpoints (/api/plugins/...), in one module so they port
easily to another generator. The send body's schema is the pydantic model's own."""

from __future__ import annotations

from typing import Any

ERROR = {"$ref": "#/components/schemas/Error"}
PLUGIN: dict[str, Any] = {
    "type": "object",
    "properties": {
        "provider": {"type": "string", "example": "google"},
        "name": {"type": "string", "example": "calculator"},
        "description": {"type": "string"},
        "parameters": {"type": "object", "description": "JSON schema of the parameters"},
        "timeoutSeconds": {"type": "number"},
        "mayRunAsync": {"type": "boolean"},
    },
}
JOB: dict[str, Any] = {
    "type": "object",
    "properties": {
        "jobId": {"type": "string", "example": "job_3f2a9c0d1e2b4a5f6a7b8c9d"},
        "status": {
            "type": "string",
            "enum": ["queued", "running", "succeeded", "failed", "cancelled"],
        },
        "provider": {"type": "string"},
        "plugin": {"type": "string"},
        "parameters": {"type": "object"},
        "conversationId": {"type": "string"},
        "sendToModel": {"type": "boolean"},
        "attempt": {"type": "integer"},
        "result": {"description": "the plugin's result (any JSON), null until succeeded"},
        "error": {"type": ["object", "null"]},
        "toolMessageId": {"type": ["string", "null"]},
        "modelMessageId": {"type": ["string", "null"]},
        "modelResponse": {"type": ["object", "null"]},
        "idempotencyKey": {"type": "string"},
        "createdAt": {"type": "string", "format": "date-time"},
        "startedAt": {"type": "string", "format": "date-time"},
        "finishedAt": {"type": "string", "format": "date-time"},
    },
}
ERRORS = {
    400: "invalid input (the envelope names the field, e.g. parameters.number2)",
    401: "no or bad token",
    404: "unknown provider, plugin (the message lists what exists), job or conversation",
    502: "the plugin failed or returned an unusable result (toolMessageId in the envelope)",
    504: "the plugin ran past its timeout (toolMessageId in the envelope)",
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(c): _json(ERROR, ERRORS[c]) for c in codes}


def _ok(props: dict[str, Any], description: str) -> dict[str, Any]:
    schema = {"type": "object", "properties": {"success": {"type": "boolean"}, **props}}
    return _json(schema, description)


def _path(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": description,
    }


LIST_DOC = {
    "responses": {
        "200": _ok(
            {"plugins": {"type": "array", "items": PLUGIN}, "broken": {"type": "array"}},
            "every plugin, and entry points that failed to load",
        ),
        **_errors(401),
    }
}
PROVIDER_DOC = {
    "parameters": [_path("provider", "e.g. google")],
    "responses": {
        "200": _ok(
            {"provider": {"type": "string"}, "plugins": {"type": "array", "items": PLUGIN}},
            "the provider's plugins",
        ),
        **_errors(401, 404),
    },
}


def send_doc(body_schema: dict[str, Any]) -> dict[str, Any]:
    """POST /plugins/{provider}/{plugin}/send."""
    return {
        "parameters": [
            _path("provider", "e.g. google"),
            _path("plugin", "e.g. calculator"),
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
                "description": "as idempotencyKey",
            },
        ],
        "requestBody": {"required": True, "content": {"application/json": {"schema": body_schema}}},
        "responses": {
            "200": _ok(
                {
                    "result": {"description": "the plugin's result"},
                    "toolMessageId": {"type": "string"},
                    "conversationId": {"type": "string"},
                    "durationMs": {"type": "number"},
                    "modelResponse": {"type": "object", "description": "with sendToModel"},
                    "modelError": {
                        "type": "object",
                        "description": "the model call failed (quota refunded)",
                    },
                },
                "runAsync false: the result (and the model's answer when asked for)",
            ),
            "202": _ok(
                {
                    "jobId": {"type": "string"},
                    "status": {"const": "queued"},
                    "conversationId": {"type": "string"},
                },
                "runAsync true: the queued job",
            ),
            **_errors(400, 401, 404, 502, 504),
        },
    }


JOB_DOC = {
    "parameters": [_path("job_id", "the job's id")],
    "responses": {"200": _ok({"job": JOB}, "the job"), **_errors(401, 404)},
}
JOBS_DOC = {
    "parameters": [
        {
            "name": "status",
            "in": "query",
            "schema": {"type": "string", "enum": JOB["properties"]["status"]["enum"]},
        },
        {
            "name": "limit",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": 500},
        },
    ],
    "responses": {
        "200": _ok({"jobs": {"type": "array", "items": JOB}}, "the caller's jobs, newest first"),
        **_errors(400, 401),
    },
}
CANCEL_DOC = {
    "parameters": [_path("job_id", "the job's id")],
    "responses": {
        "200": _ok({"job": JOB}, "cancelled (queued) or stopping (running)"),
        **_errors(400, 401, 404),
    },
}
