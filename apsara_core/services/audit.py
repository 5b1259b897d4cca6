"""The audit trail: every admin action on a user, with actor, target, time, before/after."""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from apsara_core.clock import Clock
from apsara_core.errors import PermissionDeniedError, ValidationError
from apsara_core.models import Principal
from apsara_core.repos import audit as audit_repo


class AuditService:
    """Records and lists audit entries."""

    def __init__(self, *, db: AsyncDatabase, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def record(
        self,
        *,
        actor: Principal,
        action: str,
        target_id: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        session: Any = None,
    ) -> dict[str, Any]:
        """Store one entry (inside `session`'s transaction when given) and return it."""
        entry = {
            "_id": str(ObjectId()),
            "at": self._clock.now(),
            "actorId": actor.user_id,
            "actorEmail": actor.email,
            "actorRole": actor.role,
            "action": action,
            "targetId": target_id,
            "before": before,
            "after": after,
        }
        await audit_repo.add(self._db, entry, session=session)
        return entry

    async def list(
        self,
        *,
        actor: Principal,
        target_id: str | None = None,
        action: str | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """The newest entries (admins only).

        Raises:
            PermissionDeniedError: the actor is not an admin.
            ValidationError: limit outside 1..500.
        """
        if not actor.is_admin:
            raise PermissionDeniedError("Only admins can read the audit trail")
        if not isinstance(limit, int) or not 1 <= limit <= 500:
            raise ValidationError("limit must be between 1 and 500", field="limit")
        return await audit_repo.latest(
            self._db, target_id=target_id, action=action, limit=limit, now=self._clock.now()
        )
