"""Request bodies of the HTTP API: strict types, unknown fields refused, names as in the spec."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from apsara_core.services.inputs import GoogleInput
from apsara_core.vocabulary import (
    CLIENT_KEY_MAX_LENGTH,
    DEFAULT_EMBEDDING_MODEL,
    DEFAULT_MODEL,
    TITLE_MAX_LENGTH,
)


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
    resetToken: StrictStr = Field(max_length=4096)
    newPassword: StrictStr


class ConversationCreateBody(Body):
    userId: StrictStr | None = None
    title: StrictStr = Field(min_length=1, max_length=TITLE_MAX_LENGTH)
    systemInstruction: StrictStr | None = Field(None, max_length=20_000)


class ConversationUpdateBody(Body):
    userId: StrictStr | None = None
    title: StrictStr | None = Field(None, min_length=1, max_length=TITLE_MAX_LENGTH)
    systemInstruction: StrictStr | None = Field(None, max_length=20_000)


class GenerateBody(Body):
    userId: StrictStr | None = None
    conversationId: StrictStr
    contents: StrictStr
    files: list[StrictStr] | None = None
    model: StrictStr = DEFAULT_MODEL
    config: dict[str, Any] | None = None
    stream: StrictBool = False


class EditBody(Body):
    userId: StrictStr | None = None
    conversationId: StrictStr
    messageId: StrictStr
    newContent: StrictStr
    files: list[StrictStr] | None = None
    model: StrictStr = DEFAULT_MODEL
    config: dict[str, Any] | None = None
    stream: StrictBool = False


class RegenerateBody(Body):
    userId: StrictStr | None = None
    conversationId: StrictStr
    messageId: StrictStr | None = None
    files: list[StrictStr] | None = None
    model: StrictStr = DEFAULT_MODEL
    config: dict[str, Any] | None = None
    stream: StrictBool = False


class EmbeddingsBody(Body):
    userId: StrictStr | None = None
    contents: StrictStr | list[StrictStr]
    model: StrictStr = DEFAULT_EMBEDDING_MODEL
    taskType: StrictStr | None = None
    outputDimensionality: StrictInt | None = Field(None, ge=1, le=3072)
