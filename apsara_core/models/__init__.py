"""Pydantic documents following the original schema (camelCase field names as stored)."""

from apsara_core.models.actor import Principal
from apsara_core.models.documents import (
    Conversation,
    ConversationConfig,
    ConversationStats,
    Message,
    MessageContent,
    User,
    UserUsage,
)

__all__ = [
    "Conversation",
    "ConversationConfig",
    "ConversationStats",
    "Message",
    "MessageContent",
    "Principal",
    "User",
    "UserUsage",
]
