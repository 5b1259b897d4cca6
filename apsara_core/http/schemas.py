"""Request bodies of the HTTP API: strict types, unknown fields refused, names as in the spec."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from apsara_core.services.chat_embed import TASK_TYPES
from apsara_core.services.inputs import GoogleInput
from apsara_core.vocabulary import (
    CLIENT_KEY_MAX_LENGTH,
    DEFAULT_EMBEDDING_MODEL,
    DEFAULT_MODEL,
    TITLE_MAX_LENGTH,
)

NONBLANK: dict[str, Any] = {"pattern": r"\S"}
"""Schema note for strings the services refuse when blank."""
Id = Annotated[StrictStr, Field(json_schema_extra={"minLength": 1, "maxLength": 100, **NONBLANK})]
Text = Annotated[StrictStr, Field(json_schema_extra={"minLength": 1, **NONBLANK})]
FileRef = Annotated[
    StrictStr,
    Field(json_schema_extra={"pattern": r"^(file_[\s\S]{0,95}|(gs|https)://[\s\S]{0,2040})$"}),
]
"""A file of a chat call: a stored file's id (file_...) or a gs:// or https:// URI
(services/chat_history.py `file_parts`)."""
JSON_VALUE: dict[str, Any] = {"$ref": "#/components/schemas/JsonValue"}
"""Any JSON value the services can store: integers within 64 bits (input_checks.py)."""
JSON_VALUE_SCHEMA: dict[str, Any] = {
    "description": "any JSON value; integers within 64 bits, nesting up to 64 levels",
    "anyOf": [
        {"type": "string"},
        {"type": "boolean"},
        {"type": "null"},
        {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1},
        {"type": "number", "not": {"type": "integer"}},
        {"type": "array", "items": JSON_VALUE},
        {"type": "object", "additionalProperties": JSON_VALUE},
    ],
}
TaskType = Annotated[StrictStr, Field(json_schema_extra={"enum": list(TASK_TYPES)})]


class ThinkingConfig(BaseModel):
    """config.thinkingConfig (thinking models only)."""

    model_config = ConfigDict(extra="forbid")
    includeThoughts: bool = False
    thinkingBudget: int | None = Field(None, ge=-1, le=2**63 - 1)


class GenerationConfig(BaseModel):
    """`config` of the chat routes (checked by providers/base.py GenerationOptions)."""

    model_config = ConfigDict(extra="forbid")
    temperature: float | None = Field(None, ge=0, le=2)
    topP: float | None = Field(None, ge=0, le=1)
    topK: int | None = Field(None, ge=1, le=2**63 - 1)
    maxOutputTokens: int | None = Field(None, ge=1, le=2**63 - 1)
    stopSequences: list[Annotated[str, Field(min_length=1)]] | None = Field(None, max_length=5)
    thinkingConfig: ThinkingConfig | None = None


def _inline(schema: Any, defs: dict[str, Any]) -> Any:
    """`schema` with its local $refs replaced by the definitions."""
    if isinstance(schema, dict):
        ref = schema.get("$ref", "")
        if ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_inline(v, defs) for v in schema]
    return schema


def _config_schema(schema: dict[str, Any]) -> None:
    config = GenerationConfig.model_json_schema()
    defs = config.pop("$defs", {})
    schema.clear()
    schema.update({"anyOf": [_inline(config, defs), {"type": "null"}]})


Config = Annotated[dict[str, Any] | None, Field(None, json_schema_extra=_config_schema)]


class Body(BaseModel):
    """Base: unknown fields are an error; strings must be strings (no operator objects)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# Sign-up and sign-in bodies are the auth service's own input models (services/inputs.py);
# only the shapes that differ over HTTP are declared here.


class GoogleBody(GoogleInput):
    # The original accepted these; they are ignored (identity comes from the verified token).
    email: StrictStr | None = None
    name: StrictStr | None = None


class GuestBody(Body):
    clientKey: StrictStr | None = Field(None, min_length=1, max_length=CLIENT_KEY_MAX_LENGTH)


class ResetPasswordBody(Body):
    resetToken: StrictStr = Field(max_length=4096, json_schema_extra={"minLength": 1})
    newPassword: StrictStr


class ConversationCreateBody(Body):
    userId: Id | None = None
    title: StrictStr = Field(min_length=1, max_length=TITLE_MAX_LENGTH, json_schema_extra=NONBLANK)
    systemInstruction: StrictStr | None = Field(None, max_length=20_000)


class ConversationUpdateBody(Body):
    userId: Id | None = None
    title: StrictStr | None = Field(
        None, min_length=1, max_length=TITLE_MAX_LENGTH, json_schema_extra=NONBLANK
    )
    systemInstruction: StrictStr | None = Field(None, max_length=20_000)


class GenerateBody(Body):
    userId: Id | None = None
    conversationId: Id
    contents: Text
    files: Annotated[list[FileRef], Field(max_length=10)] | None = None
    model: StrictStr = DEFAULT_MODEL
    config: Config = None
    stream: StrictBool = False


class EditBody(Body):
    userId: Id | None = None
    conversationId: Id
    messageId: Id
    newContent: Text
    files: Annotated[list[FileRef], Field(max_length=10)] | None = None
    model: StrictStr = DEFAULT_MODEL
    config: Config = None
    stream: StrictBool = False


class RegenerateBody(Body):
    userId: Id | None = None
    conversationId: Id
    messageId: Id | None = None
    files: Annotated[list[FileRef], Field(max_length=10)] | None = None
    model: StrictStr = DEFAULT_MODEL
    config: Config = None
    stream: StrictBool = False


class EmbeddingsBody(Body):
    userId: Id | None = None
    contents: Text | Annotated[list[Text], Field(min_length=1, max_length=100)]
    model: StrictStr = DEFAULT_EMBEDDING_MODEL
    taskType: TaskType | None = None
    outputDimensionality: StrictInt | None = Field(None, ge=1, le=3072)


class ConversationListQuery(Body):
    """?userId= (admins), limit, skip."""

    userId: Id | None = None
    limit: StrictInt = Field(50, ge=1, le=500)
    skip: StrictInt = Field(0, ge=0, le=10**9)


class MessagesQuery(Body):
    """?before=SEQUENCE, limit."""

    before: StrictInt | None = Field(None, ge=1, le=10**9)
    limit: StrictInt = Field(50, ge=1, le=500)


class DeleteMessageQuery(Body):
    """?withReply=true: a user message that has a reply goes with its reply."""

    withReply: StrictBool = False


class SearchQuery(Body):
    """?query=TEXT (any case), page, limit."""

    query: Annotated[StrictStr, Field(min_length=1, max_length=200, json_schema_extra=NONBLANK)]
    page: StrictInt = Field(1, ge=1, le=10**6)
    limit: StrictInt = Field(20, ge=1, le=100)


class VersionBody(Body):
    """The version (1, 2, …) of a message to make current."""

    userId: Id | None = None
    version: StrictInt = Field(ge=1, le=10**6)


PATH_ID = {"type": "string", "minLength": 1, "maxLength": 100, "pattern": r"\S"}
"""An id in a path: what the services accept (`check_id`, `check_file_id`); a blank one is
a 400, one of another shape a 404."""
