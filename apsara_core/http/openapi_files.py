"""OpenAPI request and response descriptions of the file endpoints.

A handler carries its extra OpenAPI fields as an `openapi` attribute (see `documented`);
app.py merges them into the generated operation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from apsara_core.http.schemas import PATH_ID

F = TypeVar("F", bound=Callable[..., Any])

ERROR = {"$ref": "#/components/schemas/Error"}
FILE_RECORD: dict[str, Any] = {
    "type": "object",
    "properties": {
        "fileId": {"type": "string", "example": "file_3f2a9c0d1e2b4a5f6a7b8c9d"},
        "userId": {"type": "string"},
        "displayName": {"type": "string"},
        "originalName": {
            "type": "string",
            "description": "what the client called it (metadata only)",
        },
        "size": {"type": "integer"},
        "mimeType": {"type": "string", "example": "application/pdf"},
        "kind": {"type": "string", "enum": ["image", "document", "text", "audio", "video"]},
        "sha256": {"type": "string"},
        "method": {"type": "string", "enum": ["local", "s3", "google-file-api"]},
        "reason": {"type": "string", "example": "12 MB PDF for immediate AI use: google-file-api"},
        "location": {"type": "object"},
        "geminiFile": {
            "type": ["object", "null"],
            "properties": {
                "name": {"type": "string"},
                "uri": {"type": "string"},
                "state": {"type": "string"},
                "expiresAt": {"type": "string", "format": "date-time"},
                "mimeType": {"type": "string"},
            },
        },
        "createdAt": {"type": "string", "format": "date-time"},
        "updatedAt": {"type": "string", "format": "date-time"},
    },
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "invalid input (the envelope names the field)",
        401: "no or bad token",
        403: "the plan's file limit (usageInfo) or not allowed",
        404: "unknown or another user's file",
        413: "a file over its type's size limit",
        503: "a storage method that is not configured",
    }
    return {str(c): _json(ERROR, text[c]) for c in codes}


def documented(handler: F, doc: dict[str, Any]) -> F:
    """Attach OpenAPI fields (requestBody, responses, parameters) to a handler."""
    handler.openapi = doc  # type: ignore[attr-defined]
    return handler


def hidden(handler: F) -> F:
    """Leave a handler out of the OpenAPI document (the document itself, the docs page)."""
    handler.openapi_hidden = True  # type: ignore[attr-defined]
    return handler


UPLOAD_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary", "minLength": 1},
                            "description": "an empty file is refused (400)",
                            "minItems": 1,
                            "maxItems": 10,
                        },
                        "storageMethod": {
                            "type": "string",
                            "enum": ["auto", "local", "s3", "google-file-api"],
                            "default": "auto",
                        },
                        "preference": {
                            "type": "string",
                            "enum": ["speed", "processing", "storage"],
                        },
                        "displayName": {"type": "string"},
                        "userId": {
                            "type": "string",
                            "maxLength": 100,
                            "pattern": r"^$|\S",
                            "description": "admins only; before the files",
                        },
                    },
                }
            }
        },
    },
    "responses": {
        "201": _json(
            {
                "type": "object",
                "properties": {
                    "success": {"type": "boolean"},
                    "count": {"type": "integer"},
                    "files": {"type": "array", "items": FILE_RECORD},
                },
            },
            "the stored records",
        ),
        **_errors(400, 401, 403, 413, 503),
    },
}
LIST_DOC = {
    "parameters": [
        {"name": n, "in": "query", "schema": s}
        for n, s in (
            ("userId", {"type": "string", "minLength": 1, "maxLength": 100, "pattern": r"\S"}),
            ("mimeType", {"type": "string", "minLength": 1, "maxLength": 100}),
            ("method", {"type": "string", "enum": ["local", "s3", "google-file-api"]}),
            ("search", {"type": "string", "maxLength": 100}),
            ("page", {"type": "integer", "minimum": 1, "maximum": 10**6}),
            ("pageSize", {"type": "integer", "minimum": 1, "maximum": 100}),
        )
    ],
    "responses": {
        "200": _json(
            {
                "type": "object",
                "properties": {
                    "success": {"type": "boolean"},
                    "files": {"type": "array", "items": FILE_RECORD},
                    "total": {"type": "integer"},
                    "page": {"type": "integer"},
                    "pageSize": {"type": "integer"},
                },
            },
            "a page of files, newest first",
        ),
        **_errors(400, 401, 403),
    },
}
DELETE_DOC = {
    "parameters": [{"name": "file_id", "in": "path", "required": True, "schema": PATH_ID}],
    "responses": {
        "200": _json(
            {
                "type": "object",
                "properties": {
                    "success": {"type": "boolean"},
                    "fileId": {"type": "string"},
                    "deleted": {"type": "boolean"},
                    "notes": {"type": "array", "items": {"type": "string"}},
                },
            },
            "deleted (notes say what was already gone)",
        ),
        **_errors(401, 404, 503),
    },
}
TYPES_DOC = {
    "security": [],
    "responses": {
        "200": _json(
            {
                "type": "object",
                "properties": {
                    "success": {"type": "boolean"},
                    "types": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "mimeType": {"type": "string"},
                                "kind": {"type": "string"},
                                "extensions": {"type": "array", "items": {"type": "string"}},
                                "maxBytes": {"type": "integer"},
                                "maxSize": {"type": "string"},
                                "methods": {"type": "array", "items": {"type": "string"}},
                                "aiReady": {"type": "boolean"},
                            },
                        },
                    },
                    "storageMethods": {
                        "type": "object",
                        "additionalProperties": {"type": "boolean"},
                    },
                    "preferences": {"type": "array", "items": {"type": "string"}},
                },
            },
            "the type table",
        )
    },
}
ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "success": {"type": "boolean", "const": False},
        "error": {"type": "string"},
        "details": {"type": "string"},
        "code": {"type": "string"},
        "field": {"type": "string"},
        "suggestions": {"type": "array", "items": {"type": "string"}},
    },
}
