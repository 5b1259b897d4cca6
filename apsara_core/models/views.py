"""Typed read views the core hands to front ends, so no screen reads a stored document's layout.

A view is built by a service from the stored document (and whatever else it needs, such as
the owner's email fetched for a whole page in one query). Front ends read its attributes;
where a stored field lives (e.g. `config.rest.systemInstruction`) is known here only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


def system_instruction_of(doc: dict[str, Any]) -> str | None:
    """A stored conversation's system instruction (kept under `config.rest`), if any."""
    return ((doc.get("config") or {}).get("rest") or {}).get("systemInstruction") or None


def _when(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None


@dataclass(frozen=True)
class ConversationView:
    """One conversation as a list, a detail line or the app's "current conversation" shows it.

    `owner_email` is None when the owner's account no longer exists (or was not looked up).
    """

    conversation_id: str
    title: str
    user_id: str
    owner_email: str | None
    system_instruction: str | None
    message_count: int
    total_tokens: int
    created_at: datetime | None
    updated_at: datetime | None
    last_activity: datetime | None

    @classmethod
    def of(cls, doc: dict[str, Any], owner_email: str | None = None) -> ConversationView:
        """The view of a stored conversation document."""
        stats = doc.get("stats") or {}
        return cls(
            conversation_id=str(doc["conversationId"]),
            title=str(doc.get("title") or ""),
            user_id=str(doc.get("userId") or ""),
            owner_email=owner_email,
            system_instruction=system_instruction_of(doc),
            message_count=int(stats.get("totalMessages") or 0),
            total_tokens=int(stats.get("totalTokens") or 0),
            created_at=_when(doc.get("createdAt")),
            updated_at=_when(doc.get("updatedAt")),
            last_activity=_when(stats.get("lastActivity")) or _when(doc.get("updatedAt")),
        )

    @property
    def owner(self) -> str:
        """The owner's email, or their id when the account is gone."""
        return self.owner_email or self.user_id


@dataclass(frozen=True)
class ConversationPage:
    """One page of a conversation listing, newest activity first.

    There is no total: counting scans on the embedded server, so a page says only whether
    another one follows (`has_more`).
    """

    items: tuple[ConversationView, ...]
    skip: int
    limit: int
    has_more: bool
    search: str | None = None

    @property
    def number(self) -> int:
        """The 1-based page number."""
        return self.skip // self.limit + 1


@dataclass(frozen=True)
class ConversationsSummary:
    """What "delete all" would remove, counted up to a bound (`at_least`: there are more).

    Exact counts would need a scan, or counters maintained on every message; a confirmation
    only has to say how much goes, so counting stops at the bound and says "at least".
    """

    conversations: int
    messages: int
    titles: tuple[str, ...]
    at_least: bool
