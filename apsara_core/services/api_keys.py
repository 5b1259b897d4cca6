"""Personal API keys: for scripts and client apps, sent as `Authorization: Bearer <key>`.

A key is `apsk_` + 32 random bytes, shown once at creation; only its SHA-256 is stored (the
key is random, so a fast hash is enough). A key acts with its owner's CURRENT rights and plan,
and is refused when the owner is deleted or locked, when it is revoked or expired. A read-only
key may only read (the HTTP API refuses it on any method but GET).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from apsara_core.clock import Clock
from apsara_core.config import duration_seconds
from apsara_core.errors import (
    AuthenticationError,
    ConfigError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from apsara_core.models import Principal
from apsara_core.repos import api_keys as repo
from apsara_core.repos import users as user_repo
from apsara_core.services.auth import check_not_locked

PREFIX = "apsk_"
NAME_MAX = 100


def is_api_key(token: str) -> bool:
    """Whether a bearer credential is an API key (not a session token)."""
    return token.startswith(PREFIX)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _invalid(reason: str) -> AuthenticationError:
    return AuthenticationError(reason, code="API_KEY_INVALID")


class ApiKeyService:
    """create, list, revoke and verify personal API keys."""

    def __init__(self, *, db: AsyncDatabase, clock: Clock) -> None:
        self._db, self._clock = db, clock

    async def create(
        self,
        *,
        actor: Principal,
        name: Any,
        expires_in: str | None = None,
        read_only: bool = False,
    ) -> dict[str, Any]:
        """A new key of the actor: {"key" (shown once), "id", name, createdAt, expiresAt, readOnly}.

        Raises:
            ValidationError: a blank or long name, a bad duration, a guest or the operator.
        """
        if actor.is_guest or actor.user_id == "operator":
            raise PermissionDeniedError("API keys belong to registered users", field="user")
        if not isinstance(name, str) or not name.strip() or len(name) > NAME_MAX:
            raise ValidationError(f"name must be 1-{NAME_MAX} characters", field="name")
        now = self._clock.now()
        expires = None
        if expires_in is not None and not isinstance(expires_in, str):
            raise ValidationError(
                f"expiresIn must be a duration like 30d, 12h or 3600; got {expires_in!r}",
                field="expiresIn",
            )
        if expires_in:
            try:
                seconds = duration_seconds(expires_in)
                # Past what a date can hold (year 9999): it expires at the last moment one can.
                latest = datetime.max.replace(tzinfo=now.tzinfo) - now
                expires = now + (
                    latest if seconds >= latest.total_seconds() else timedelta(seconds=seconds)
                )
            except ConfigError:
                raise ValidationError(
                    f"expiresIn must be a duration like 30d, 12h or 3600; got {expires_in!r}",
                    field="expiresIn",
                ) from None
        key = PREFIX + secrets.token_urlsafe(32)
        doc = {
            "keyId": f"key_{uuid.uuid4().hex[:24]}",
            "userId": actor.user_id,
            "name": name.strip(),
            "hash": _digest(key),
            "prefix": key[:12],
            "readOnly": bool(read_only),
            "createdAt": now,
            "lastUsedAt": None,
            "expiresAt": expires,
            "revokedAt": None,
        }
        await repo.insert(self._db, doc)
        public = {k: v for k, v in doc.items() if k not in ("hash", "keyId")}
        return {"key": key, "id": doc["keyId"], **public}

    async def list(self, *, actor: Principal, user_id: str | None = None) -> list[dict[str, Any]]:
        """The actor's live keys (admins: anyone's, or everyone's with no user)."""
        owner = user_id if actor.is_admin else actor.user_id
        return [_public(doc) for doc in await repo.list_for(self._db, owner)]

    async def revoke(self, *, actor: Principal, key_id: Any) -> dict[str, Any]:
        """Revoke a key at once.

        Raises:
            NotFoundError: unknown, already revoked, or someone else's.
        """
        doc = await repo.find(self._db, key_id) if isinstance(key_id, str) else None
        if doc is None or (doc["userId"] != actor.user_id and not actor.is_admin):
            raise NotFoundError(f"No API key {key_id!r}", field="id")
        await repo.revoke(self._db, key_id, self._clock.now())
        return {"id": key_id, "revoked": True}

    async def verify(self, key: str) -> Principal:
        """The principal a key acts as: its owner now, with the key's scope.

        Raises:
            AuthenticationError: unknown, revoked or expired key; the owner is gone.
            AccountLockedError: the owner is locked.
        """
        doc = await repo.find_by_hash(self._db, _digest(key))
        now = self._clock.now()
        if doc is None:
            raise _invalid("The API key is unknown or revoked")
        if doc.get("expiresAt") is not None and doc["expiresAt"] <= now:
            raise _invalid("The API key has expired")
        user = await user_repo.find_by_id(self._db, doc["userId"])
        if user is None:
            raise _invalid("The owner of this API key no longer exists")
        check_not_locked(user, now)
        await repo.touch(self._db, doc["keyId"], now)

        return replace(Principal.of_user(user), read_only=bool(doc.get("readOnly", False)))

    @staticmethod
    def check_write(actor: Principal) -> None:
        """Refuse a change made with a read-only key.

        Raises:
            PermissionDeniedError: the key is read-only.
        """
        if actor.read_only:
            raise PermissionDeniedError(
                "This API key is read-only: it may only read", code="API_KEY_READ_ONLY"
            )


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": doc["keyId"], **{k: v for k, v in doc.items() if k != "keyId"}}
