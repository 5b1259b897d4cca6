"""The OpenAPI 3.1 document, generated from the pydantic models that validate requests
(http/schemas.py, services/inputs.py) and describe responses (http/responses.py).

Each route module declares its operations next to the handlers with `operation(...)`, which
builds the plain OpenAPI fields that `documented(handler, doc)` (openapi_files.py) attaches;
hand-written docs through `documented` merge the same way. `document(app)` walks the routes,
adds path parameters, the common error statuses and the security requirement, and collects
every model's schema under components.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from pydantic import BaseModel
from starlette.applications import Starlette

from apsara_core import __version__
from apsara_core.http import responses
from apsara_core.http.errors import walk
from apsara_core.http.schemas import JSON_VALUE_SCHEMA, PATH_ID
from apsara_core.storage.types import METHODS

REF = "#/components/schemas/{model}"
SCHEMAS: dict[str, Any] = {"JsonValue": JSON_VALUE_SCHEMA}
ERROR_TEXT = {
    400: "invalid input (the envelope names the field)",
    401: "no, bad, expired or revoked token or API key (WWW-Authenticate: Bearer)",
    403: "not allowed for this role, plan or key scope",
    404: "unknown, or someone else's",
    409: "clashes with what is stored",
    413: "body over its size limit",
    415: "Content-Type is not the one this endpoint reads",
    422: "blocked by the AI provider",
    423: "locked after failed sign-ins (Retry-After)",
    429: "a limit was reached (Retry-After, usageInfo, X-RateLimit-*)",
    500: "an unexpected error (logged)",
    502: "the AI provider refused the server's credentials",
    503: "a dependency (database, provider, storage, configuration) is unavailable",
}
COMMON = (400, 401, 403, 404, 429, 500, 503)
RATE_HEADERS = {
    name: {"description": text, "schema": {"type": "integer"}}
    for name, text in (
        ("X-RateLimit-Limit", "requests allowed per window"),
        ("X-RateLimit-Remaining", "requests left in this window"),
        ("X-RateLimit-Reset", "end of the window, epoch seconds"),
    )
}


def schema_ref(model: type[BaseModel], mode: str = "validation") -> dict[str, Any]:
    """A $ref to `model`'s JSON schema, registered (with its nested models) in components."""
    name = model.__name__ if mode == "validation" else f"{model.__name__}"
    js = model.model_json_schema(ref_template=REF, mode=mode)  # type: ignore[arg-type]
    SCHEMAS.update(js.pop("$defs", {}))
    SCHEMAS[name] = js
    return {"$ref": REF.format(model=name)}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """Query parameters from a model's fields (name, schema, required, description)."""
    js = model.model_json_schema(mode="validation")
    required = set(js.get("required", []))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": {k: v for k, v in prop.items() if k != "title"},
        }
        for name, prop in js.get("properties", {}).items()
    ]


def operation(
    *,
    ok: type[BaseModel],
    status: int = 200,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    errors: tuple[int, ...] = (),
    public: bool = False,
    stream: bool = False,
    tag: str | None = None,
) -> dict[str, Any]:
    """The OpenAPI fields of one operation, for `documented(handler, operation(...))`.

    `ok` is the success body's model (answered with `status`), `body` the JSON request
    body's, `query` the query string's; `errors` adds statuses to the common ones; `public`
    drops the bearer requirement; `stream` adds the text/event-stream form of the answer.
    """
    success = _json(schema_ref(ok, "serialization"), "success")
    if stream:
        success["content"]["text/event-stream"] = {
            "schema": {"type": "string", "description": "data: {type, text, data} events"}
        }
    doc: dict[str, Any] = {"responses": {str(status): success}, "x-errors": list(errors)}
    if body is not None:
        doc["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schema_ref(body)}},
        }
    if query is not None:
        doc["parameters"] = query_parameters(query)
    if public:
        doc["security"] = []
    if tag:
        doc["tags"] = [tag]
    return doc


def _operation(path: str, method: str, endpoint: Any, name: str) -> dict[str, Any]:
    lines = (endpoint.__doc__ or "").strip().split("\n\n")[0].split("\n")
    doc = dict(getattr(endpoint, "openapi", {}))
    extra = tuple(doc.pop("x-errors", ()))
    op: dict[str, Any] = {
        "summary": lines[0].strip() if lines[0] else name,
        "operationId": f"{name}_{method}",
        "tags": [path.split("/")[2]] if path.count("/") >= 2 else ["api"],
        **doc,
    }
    if len(lines) > 1:
        op["description"] = " ".join(line.strip() for line in lines)
    params = list(op.get("parameters", []))
    declared = {p["name"] for p in params if p.get("in") == "path"}
    for param in re.findall(r"{(\w+)}", path):
        if param not in declared:
            params.append({"name": param, "in": "path", "required": True, "schema": PATH_ID})
    if params:
        op["parameters"] = params
    codes = {*COMMON, *extra}
    if "requestBody" in op:
        codes |= {413, 415}
    out = dict(op.get("responses", {}))
    for code in sorted(codes):
        out.setdefault(
            str(code), _json(schema_ref(responses.Error, "serialization"), ERROR_TEXT[code])
        )
    for resp in out.values():
        resp.setdefault("headers", {}).update(RATE_HEADERS)
    op["responses"] = out
    return op


def document(app: Starlette) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route of `app` (model names from its Core's
    providers, when it has one)."""
    paths: dict[str, dict[str, Any]] = {}
    for path, route in walk(list(app.routes), ""):
        if getattr(route.endpoint, "openapi_hidden", False):
            continue
        for method in sorted((route.methods or set()) - {"HEAD"}):
            paths.setdefault(path, {})[method.lower()] = _operation(
                path, method.lower(), route.endpoint, route.name
            )
    core = getattr(app.state, "core", None)
    if core is not None:
        _model_names(core.providers.known_models(), core.providers.known_embedding_models())
        _storage_methods(paths, [m for m in METHODS if core.files.storage.available(m)])
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Apsara API",
            "version": __version__,
            "description": "Conversations with Gemini: users, conversations, AI, files.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "security": [{"bearerAuth": []}, {"apiKey": []}],
        "components": {
            "schemas": dict(sorted(SCHEMAS.items())),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "a session token from /api/users/login",
                },
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a personal API key (apsk_...), sent as a bearer token",
                },
            },
        },
    }


def _storage_methods(paths: dict[str, Any], offered: list[str]) -> None:
    """An upload's `storageMethod` lists the methods this server offers (auto and local
    always); another one answers 400 STORAGE_NOT_CONFIGURED."""
    upload = paths.get("/api/files/upload", {}).get("post", {})
    if "requestBody" not in upload:
        return
    upload["requestBody"] = copy.deepcopy(upload["requestBody"])  # the module's doc stays as is
    content = upload["requestBody"].get("content", {}).get("multipart/form-data", {})
    prop = content.get("schema", {}).get("properties", {}).get("storageMethod")
    if prop is not None:
        prop["enum"] = ["auto", *offered]
        prop["description"] = (
            "the methods this server offers; another one (s3 without S3_BUCKET, "
            "google-file-api without a Gemini key) answers 400 STORAGE_NOT_CONFIGURED"
        )


def _model_names(chat: list[str], embedding: list[str]) -> None:
    """The `model` fields list the models the server's providers know."""
    for name, models in (
        ("GenerateBody", chat),
        ("EditBody", chat),
        ("RegenerateBody", chat),
        ("EmbeddingsBody", embedding),
    ):
        prop = SCHEMAS.get(name, {}).get("properties", {}).get("model")
        if prop is not None and models:
            prop["enum"] = sorted(models)
