"""OpenAPI descriptions of the OpenAI-compatible endpoint (/v1)."""

from __future__ import annotations

from typing import Any

OPENAI_ERROR: dict[str, Any] = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "code": {"type": "string", "example": "RATE_LIMIT_EXCEEDED"},
                "param": {"type": ["string", "null"]},
            },
        }
    },
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "invalid input (param names the field) or an unknown model",
        401: "no or bad token",
        403: "the plan does not include the model (MODEL_NOT_IN_PLAN)",
        404: "unknown or another user's conversation",
        429: "the plan's allowance is used up",
        502: "the AI provider failed",
    }
    return {str(c): _json(OPENAI_ERROR, text[c]) for c in codes}


MESSAGE: dict[str, Any] = {
    "type": "object",
    "required": ["role"],
    "properties": {
        "role": {"type": "string", "enum": ["system", "developer", "user", "assistant", "tool"]},
        "content": {
            "anyOf": [
                {"type": "string"},
                {"type": "null"},
                {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["type", "text"],
                        "properties": {"type": {"const": "text"}, "text": {"type": "string"}},
                    },
                },
            ],
            "description": "text, or text parts (images are not read yet)",
        },
    },
}
CHAT_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["model", "messages"],
                    "properties": {
                        "model": {"type": "string", "example": "ollama/llama3.2"},
                        "messages": {
                            "type": "array",
                            "items": MESSAGE,
                            "minItems": 1,
                            "maxItems": 1000,
                            "description": "the last one is a non-empty user message",
                        },
                        "stream": {"type": "boolean"},
                        "stream_options": {
                            "type": "object",
                            "properties": {"include_usage": {"type": "boolean"}},
                        },
                        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
                        "top_p": {"type": "number", "minimum": 0, "maximum": 1},
                        "max_tokens": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
                        "max_completion_tokens": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": 2**63 - 1,
                        },
                        "stop": {
                            "anyOf": [
                                {"type": "string", "minLength": 1},
                                {
                                    "type": "array",
                                    "items": {"type": "string", "minLength": 1},
                                    "maxItems": 5,
                                },
                            ]
                        },
                        "conversation": {
                            "type": "string",
                            "description": "Apsara extension: append to this stored "
                            "conversation (automatic history); also X-Apsara-Conversation",
                        },
                    },
                }
            }
        },
    },
    "responses": {
        "200": {
            "description": "a chat.completion, or with stream: text/event-stream of "
            "chat.completion.chunk ending with data: [DONE]",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        **_errors(400, 401, 403, 404, 429, 502),
    },
}

MODELS_DOC: dict[str, Any] = {
    "responses": {
        "200": _json(
            {
                "type": "object",
                "properties": {
                    "object": {"const": "list"},
                    "data": {"type": "array", "items": {"type": "object"}},
                },
            },
            "the models the caller's plan allows",
        ),
        **_errors(401),
    }
}
