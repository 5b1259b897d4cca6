"""Domain documents as stored in MongoDB (the spec's Users, UserUsage, Conversations, Messages)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from apsara_core.vocabulary import AuthProvider, Plan, Role


class Document(BaseModel):
    """Base: stored field names as given, unknown stored fields kept."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def to_mongo(self) -> dict[str, Any]:
        """The dict to store (None fields dropped)."""
        return self.model_dump(by_alias=True, exclude_none=True)


class User(Document):
    """An account: local (email + password), Google, or guest."""

    id: str | None = Field(None, alias="_id")
    fullName: str
    email: str
    password: str | None = None
    passwordPepper: str | None = None  # id of the pepper of `password`; None: legacy (JWT-derived)
    role: Role = "user"
    subscriptionPlan: Plan = "free"
    authProvider: AuthProvider = "local"
    googleId: str | None = None
    picture: str | None = None
    isGuest: bool = False
    guestSessionId: str | None = None
    guestClientKey: str | None = None
    isEmailVerified: bool = False
    failedLoginAttempts: int = 0
    lockedUntil: datetime | None = None
    tokensValidAfter: datetime | None = None
    lastLoginAt: datetime | None = None
    createdAt: datetime  # from the caller's clock, like every stamp
    updatedAt: datetime


class ModelCount(BaseModel):
    """Count and limit of one model on one day."""

    count: int = 0
    limit: int = 0


class UserUsage(Document):
    """Usage totals of one user; daily counters live in usage_daily."""

    userId: str
    subscriptionPlan: str = "free"
    dailyUsage: dict[str, Any] = Field(default_factory=dict)
    guestLimits: dict[str, int] | None = None
    totalUsage: dict[str, int] = Field(
        default_factory=lambda: {"totalMessages": 0, "totalTokens": 0, "totalConversations": 0}
    )
    lastActivity: datetime | None = None


class ConversationConfig(BaseModel):
    """Conversation settings; the system instruction is fixed after the first message."""

    model_config = ConfigDict(extra="allow")
    rest: dict[str, Any] = Field(default_factory=dict)


class ConversationStats(BaseModel):
    """Per-conversation counters; messageSequence is the last sequence used."""

    messageSequence: int = 0
    totalMessages: int = 0
    totalTokens: int = 0
    lastActivity: datetime | None = None


class Conversation(Document):
    """A conversation owned by one user."""

    conversationId: str
    userId: str
    ownerEmail: str | None = None  # a registered owner's (immutable) email; not a guest's
    title: str
    config: ConversationConfig = Field(default_factory=ConversationConfig)
    stats: ConversationStats = Field(default_factory=ConversationStats)
    createdAt: datetime  # from the caller's clock, like every stamp
    updatedAt: datetime


class MessageContent(BaseModel):
    """Text and (for model replies) the thought summary."""

    text: str = ""
    thoughts: str | None = None


class Message(Document):
    """One turn: user, model or tool (plugin) message."""

    messageId: str
    conversationId: str
    userId: str
    messageSequence: int
    role: Literal["user", "model", "tool"]
    content: MessageContent
    config: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    isEdited: bool = False
    editHistory: list[dict[str, Any]] = Field(default_factory=list)
    createdAt: datetime
