"""Response bodies of the HTTP API as pydantic models: the OpenAPI document declares them and
the contract tests (schemathesis) check every response against them. Fields the clients rely
on are declared; records may carry more (extra fields allowed)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class Out(BaseModel):
    """Base of success envelopes: `success` is true; more fields may follow."""

    model_config = ConfigDict(extra="allow")
    success: Literal[True]


class Error(BaseModel):
    """The error envelope of every failure."""

    model_config = ConfigDict(extra="allow")
    success: Literal[False]
    error: str
    details: str
    code: str
    field: str | None = None
    suggestions: list[str]
    usageInfo: dict[str, Any] | None = None
    """Present on 429: what was counted (a quota, the request window, a provider limit)."""
    resetTime: str | None = None


class Record(BaseModel):
    """A stored record (user, conversation, message): its fields as the API shows them."""

    model_config = ConfigDict(extra="allow")


class Message(Out):
    message: str


class Session(Out):
    message: str
    token: str
    user: Record
    expiresAt: str


class ResetToken(Out):
    resetToken: str
    message: str


class Me(Out):
    user: Record


class ConversationCreated(Out):
    conversation: Record
    conversationId: str


class OneConversation(Out):
    conversation: Record


class Conversations(Out):
    conversations: list[Record]
    count: int


class Messages(Out):
    messages: list[Record]
    count: int


class Deleted(Out):
    message: str
    deleted: Any


class Reply(Out):
    """A generated reply (generate, edit-message, regenerate)."""

    conversationId: str
    text: str


class Embeddings(Out):
    embeddings: list[Any]


class Health(Out):
    status: str
    database: Record
    providers: list[str]
    version: str
    schemaVersion: int


class SearchResults(Out):
    """A page of the messages whose text matches, by sequence."""

    query: str
    page: int
    limit: int
    hasMore: bool
    items: list[Record]


class Versions(Out):
    """The messages that have sibling versions (forks), each with its numbered versions."""

    versions: list[Record]
    count: int


class VersionSwitched(Out):
    switched: bool
    version: int
    of: int
    messageId: str | None
    restored: int
