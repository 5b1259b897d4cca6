"""Response bodies of the HTTP API as pydantic models: the OpenAPI document declares them and
the contract tests (schemathesis) check every response against them. Fields the clients rely
on are declared; records may carry more (extra fields allowed)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from apsara_core.vocabulary import AuthProvider, Role


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
    """A stored record: the fields clients rely on are declared by its subclasses; a record
    may carry more (extra fields allowed). Times are ISO 8601 strings in UTC."""

    model_config = ConfigDict(extra="allow")


When = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class UserRecord(Record):
    """A user as callers see it (never a password hash)."""

    id: str = Field(alias="_id")
    fullName: str
    email: str
    role: Role
    subscriptionPlan: str
    authProvider: AuthProvider
    isGuest: bool
    isEmailVerified: bool
    picture: str | None = None
    lockedUntil: When | None = None
    failedLoginAttempts: int
    createdAt: When
    updatedAt: When
    lastLoginAt: When | None = None


class ConversationStats(Record):
    messageSequence: int
    totalMessages: int
    totalTokens: int
    lastActivity: When | None = None


class ConversationRecord(Record):
    """A conversation; `config.rest.systemInstruction` holds its system instruction."""

    conversationId: str
    userId: str
    title: str
    config: dict[str, Any]
    stats: ConversationStats
    createdAt: When
    updatedAt: When


class MessageContent(Record):
    text: str
    thoughts: str | None = None


class MessageRecord(Record):
    """One message of a conversation; `metadata` carries status, timing, tokens and the
    provider that answered (model messages)."""

    messageId: str
    conversationId: str
    userId: str
    role: Literal["user", "model", "tool"]
    content: MessageContent
    messageSequence: int
    metadata: dict[str, Any]
    isEdited: bool
    createdAt: When


class ApiKeyRecord(Record):
    """A personal API key's record (never the key itself: `prefix` is its first characters)."""

    id: str
    userId: str
    name: str
    prefix: str
    readOnly: bool
    createdAt: When
    lastUsedAt: When | None = None
    expiresAt: When | None = None
    revokedAt: When | None = None


class Message(Out):
    message: str


class Session(Out):
    message: str
    token: str
    user: UserRecord
    expiresAt: str


class ResetToken(Out):
    resetToken: str
    message: str


class Me(Out):
    user: UserRecord


class ConversationCreated(Out):
    conversation: ConversationRecord
    conversationId: str


class OneConversation(Out):
    conversation: ConversationRecord


class Conversations(Out):
    conversations: list[ConversationRecord]
    count: int


class Messages(Out):
    messages: list[MessageRecord]
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


class SearchHit(Record):
    """A message whose text matches: its number, who wrote it, the words around the match."""

    messageId: str
    messageSequence: int
    role: Literal["user", "model", "tool"]
    createdAt: When
    snippet: str


class SearchResults(Out):
    """A page of the messages whose text matches, newest first."""

    query: str
    page: int
    limit: int
    hasMore: bool
    items: list[SearchHit]


class VersionRecord(Record):
    """One version of a message: the live one (`current`, no branchId) or an archived branch."""

    version: int
    current: bool
    branchId: str | None
    messageId: str
    messageSequence: int
    role: Literal["user", "model", "tool"]
    reason: str | None
    messages: int
    preview: str
    createdAt: When


class ForkRecord(Record):
    """A message with sibling versions: the live message that starts it (None when only
    archived versions follow the parent) and its versions, numbered in the order made."""

    parentId: str | None
    parentSequence: int
    messageId: str | None
    messageSequence: int | None
    current: int | None
    versions: list[VersionRecord]


class Versions(Out):
    """The messages that have sibling versions (forks)."""

    versions: list[ForkRecord]
    count: int


class VersionSwitched(Out):
    switched: bool
    version: int
    of: int
    messageId: str | None
    restored: int
    replacedBy: str | None
    fork: ForkRecord | None


class DeletedMessage(Record):
    messageId: str
    messageSequence: int
    role: Literal["user", "model", "tool"]


class DeletedMessages(Record):
    conversationId: str
    deleted: list[DeletedMessage]
    messages: int


class MessageDeleted(Out):
    message: str
    deleted: DeletedMessages
