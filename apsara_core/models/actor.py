"""The authenticated principal every service call takes as `actor`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apsara_core.vocabulary import Plan, Role


@dataclass(frozen=True)
class Principal:
    """Who is acting: from a verified token (HTTP) or the operator's session (CLI/TUI)."""

    user_id: str
    role: Role
    plan: Plan
    email: str | None = None
    jti: str | None = None
    read_only: bool = False
    """Acting through a read-only API key: reads only."""

    @property
    def is_admin(self) -> bool:
        """Admins may act on other users' data."""
        return self.role == "admin"

    @property
    def is_guest(self) -> bool:
        """Guests have a total message allowance and no user/admin operations."""
        return self.role == "guest"

    @classmethod
    def operator(cls) -> Principal:
        """The terminal operator: direct database access, acts as admin."""
        return cls(user_id="operator", role="admin", plan="premium", email=None)

    @classmethod
    def of_user(cls, user: dict[str, Any], jti: str | None = None) -> Principal:
        """The principal of a stored user document."""
        return cls(
            user_id=str(user["_id"]),
            role=user.get("role", "user"),
            plan=user.get("subscriptionPlan", "free"),
            email=user.get("email"),
            jti=jti,
        )
