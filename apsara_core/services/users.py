"""Users: create, list, show, delete, plan, role, unlock. Admin actions are audited."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar, cast

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from apsara_core.clock import Clock
from apsara_core.db.transactions import run_in_transaction
from apsara_core.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from apsara_core.models import Principal, User
from apsara_core.repos import login_attempts
from apsara_core.repos import users as repo
from apsara_core.services.audit import AuditService
from apsara_core.services.files import FileService
from apsara_core.services.hints import LIST_USERS
from apsara_core.services.inputs import check_email
from apsara_core.services.password_store import PasswordStore
from apsara_core.services.passwords import StoredPassword, check_policy
from apsara_core.vocabulary import (
    ASSIGNABLE_PLANS,
    ASSIGNABLE_ROLES,
    AUTH_PROVIDERS,
    EMAIL_MAX_LENGTH,
    FULL_NAME_MAX_LENGTH,
    PLANS,
    ROLES,
    AuthProvider,
    Plan,
    Role,
)

Choice = TypeVar("Choice", bound=str)

PUBLIC_FIELDS = (
    "_id",
    "fullName",
    "email",
    "role",
    "subscriptionPlan",
    "authProvider",
    "isGuest",
    "isEmailVerified",
    "picture",
    "lockedUntil",
    "failedLoginAttempts",
    "createdAt",
    "updatedAt",
    "lastLoginAt",
)
MAX_PAGE_SIZE = 100


def public_user(doc: dict[str, Any]) -> dict[str, Any]:
    """The user as callers see it: no password hash, no internal fields."""
    out = {name: doc.get(name) for name in PUBLIC_FIELDS}
    out["_id"] = str(doc["_id"])
    out["failedLoginAttempts"] = int(doc.get("failedLoginAttempts") or 0)
    out["isGuest"] = bool(doc.get("isGuest"))
    out["isEmailVerified"] = bool(doc.get("isEmailVerified"))
    return out


def new_user_doc(
    *,
    email: str,
    full_name: str,
    password: StoredPassword | None,
    now: datetime,
    role: Role = "user",
    plan: Plan = "free",
    provider: AuthProvider = "local",
    verified: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """A user document as stored (camelCase, string `_id`), created at `now`."""
    # Any: the password fields are User's str fields, which mypy cannot match by key
    hashed: dict[str, Any] = password.fields() if password is not None else {}
    return User(
        _id=repo.new_id(),
        fullName=full_name,
        email=email,
        **hashed,
        role=role,
        subscriptionPlan=plan,
        authProvider=provider,
        isGuest=role == "guest",
        isEmailVerified=verified,
        createdAt=now,
        updatedAt=now,
        **extra,
    ).to_mongo()


def check_choice(value: object, allowed: tuple[Choice, ...], field: str) -> Choice:
    """`value` must be one of `allowed`.

    Raises:
        ValidationError: naming the field and the accepted values.
    """
    if not isinstance(value, str) or value not in allowed:
        raise ValidationError(f"{field} must be one of: {', '.join(allowed)}", field=field)
    return cast(Choice, value)  # one of `allowed`, so of its (Literal) type


def check_text(value: object, field: str, max_len: int, *, min_len: int = 1) -> str:
    """A trimmed string of min_len..max_len characters.

    Raises:
        ValidationError: naming the field.
    """
    if not isinstance(value, str) or not min_len <= len(value.strip()) <= max_len:
        raise ValidationError(
            f"{field} must be text of {min_len} to {max_len} characters", field=field
        )
    return value.strip()


def _require_admin(actor: Principal) -> None:
    if not isinstance(actor, Principal) or not actor.is_admin:
        raise PermissionDeniedError("Only admins can manage users")


class UserService:
    """User administration (admins) and self-lookup (anyone, for themselves)."""

    def __init__(
        self,
        *,
        db: AsyncDatabase,
        passwords: PasswordStore,
        audit: AuditService,
        files: FileService,
        clock: Clock,
    ) -> None:
        self._db = db
        self._passwords = passwords
        self._audit = audit
        self._files = files
        self._clock = clock

    async def _find(self, actor: Principal, key: object) -> dict[str, Any]:
        """The user `key` (email or id) the actor may see; 404 otherwise."""
        text = check_text(key, "user", EMAIL_MAX_LENGTH)
        doc = await repo.find_by_email_or_id(self._db, text)
        if doc is None or (not actor.is_admin and str(doc["_id"]) != actor.user_id):
            raise NotFoundError(
                f"No user {text!r}",
                field="user",
                suggestions=[LIST_USERS],
            )
        return doc

    async def create(
        self,
        *,
        actor: Principal,
        email: str,
        full_name: str,
        password: str | None = None,
        role: str = "user",
        plan: str = "free",
        verified: bool = False,
    ) -> dict[str, Any]:
        """Create an account (admins). Without a password the user sets one via reset.

        Raises:
            PermissionDeniedError, ValidationError (naming the field), ConflictError (email taken).
        """
        _require_admin(actor)
        address = check_email(email)
        name = check_text(full_name, "fullName", FULL_NAME_MAX_LENGTH)
        checked_role = check_choice(role, ASSIGNABLE_ROLES, "role")
        checked_plan = check_choice(plan, ASSIGNABLE_PLANS, "plan")
        if not isinstance(verified, bool):
            raise ValidationError("verified must be true or false", field="verified")
        hashed = (
            await self._passwords.hash(check_policy(password)) if password is not None else None
        )
        doc = new_user_doc(
            email=address,
            full_name=name,
            password=hashed,
            role=checked_role,
            plan=checked_plan,
            verified=verified,
            now=self._clock.now(),
        )

        async def work(s: AsyncClientSession) -> None:
            await repo.insert(self._db, doc, session=s)
            await self._audit.record(
                actor=actor,
                action="user.create",
                target_id=doc["_id"],
                before=None,
                after=public_user(doc),
                session=s,
            )

        try:
            await run_in_transaction(self._db, work)
        except DuplicateKeyError:
            raise ConflictError(
                f"A user with email {address} already exists", field="email"
            ) from None
        return public_user(doc)

    async def list(
        self,
        *,
        actor: Principal,
        role: str | None = None,
        plan: str | None = None,
        provider: str | None = None,
        text: str | None = None,
        page: int = 1,
        page_size: int = 20,
    ) -> dict[str, Any]:
        """One page of users, newest first, filtered (admins).

        Raises:
            PermissionDeniedError, ValidationError (naming the filter).
        """
        _require_admin(actor)
        for value, allowed, field in (
            (role, ROLES, "role"),
            (plan, PLANS, "plan"),
            (provider, AUTH_PROVIDERS, "provider"),
        ):
            if value is not None:
                check_choice(value, allowed, field)
        search = check_text(text, "search", 100) if text not in (None, "") else None
        if isinstance(page, bool) or not isinstance(page, int) or page < 1:
            raise ValidationError("page must be a whole number from 1", field="page")
        if (
            isinstance(page_size, bool)
            or not isinstance(page_size, int)
            or not 1 <= page_size <= MAX_PAGE_SIZE
        ):
            raise ValidationError(
                f"pageSize must be between 1 and {MAX_PAGE_SIZE}", field="pageSize"
            )
        query = repo.list_filter(role=role, plan=plan, provider=provider, text=search)
        items, total = await repo.list_page(
            self._db, query, skip=(page - 1) * page_size, limit=page_size
        )
        return {
            "items": [public_user(d) for d in items],
            "total": total,
            "page": page,
            "pageSize": page_size,
        }

    async def get(self, *, actor: Principal, user: str) -> dict[str, Any]:
        """One user by email or id (admins: anyone; others: themselves).

        Raises:
            NotFoundError: unknown, or someone else's account.
        """
        return public_user(await self._find(actor, user))

    async def delete(self, *, actor: Principal, user: str) -> dict[str, Any]:
        """Delete a user with their conversations, messages, files and usage, in one
        transaction, audited (admins).

        Returns:
            {"user": email, "conversations": n, "messages": n, "files": n, "usage": n}
        """
        _require_admin(actor)
        doc = await self._find(actor, user)
        files = await self._files.records_of(str(doc["_id"]))

        async def work(s: AsyncClientSession) -> dict[str, int]:
            counts = await repo.delete_with_data(self._db, str(doc["_id"]), session=s)
            await self._audit.record(
                actor=actor,
                action="user.delete",
                target_id=str(doc["_id"]),
                before=public_user(doc),
                after={"deleted": counts},
                session=s,
            )
            return counts

        counts = await run_in_transaction(self._db, work)
        # The stored objects go once the records are gone, best effort (failures are logged):
        # a storage outage must not undo or block the deletion.
        failed = await self._files.purge(files)
        return {"user": doc["email"], **counts, **({"filesNotRemoved": failed} if failed else {})}

    async def set_plan(self, *, actor: Principal, user: str, plan: str) -> dict[str, Any]:
        """Change a user's plan (admins); applies at the user's next call."""
        check_choice(plan, ASSIGNABLE_PLANS, "plan")
        return await self._change(actor, user, "user.set_plan", {"subscriptionPlan": plan})

    async def set_role(self, *, actor: Principal, user: str, role: str) -> dict[str, Any]:
        """Change a user's role (admins); applies at the user's next call."""
        check_choice(role, ASSIGNABLE_ROLES, "role")
        return await self._change(actor, user, "user.set_role", {"role": role})

    async def unlock(self, *, actor: Principal, user: str) -> dict[str, Any]:
        """Clear a login lockout and the failure counters, of the account and of its email's
        attempt record (admins)."""
        return await self._change(
            actor,
            user,
            "user.unlock",
            {"lockedUntil": None, "failedLoginAttempts": 0},
            also=lambda doc, s: login_attempts.clear(self._db, doc["email"], session=s),
        )

    async def _change(
        self,
        actor: Principal,
        key: str,
        action: str,
        fields: dict[str, Any],
        also: Callable[[dict[str, Any], AsyncClientSession], Awaitable[None]] | None = None,
    ) -> dict[str, Any]:
        _require_admin(actor)
        doc = await self._find(actor, key)
        if doc.get("isGuest") and action != "user.unlock":
            raise ValidationError(
                "Guest accounts keep the guest role and plan until they register", field="user"
            )

        async def work(s: AsyncClientSession) -> dict[str, Any]:
            after = await repo.update(
                self._db, str(doc["_id"]), fields, now=self._clock.now(), session=s
            )
            if after is None:
                raise NotFoundError(f"No user {key!r}", field="user")
            if also is not None:
                await also(doc, s)
            await self._audit.record(
                actor=actor,
                action=action,
                target_id=str(doc["_id"]),
                before={k: doc.get(k) for k in fields},
                after={k: after.get(k) for k in fields},
                session=s,
            )
            return after

        return public_user(await run_in_transaction(self._db, work))

    async def verify_password(self, *, user_id: str, password: str) -> bool:
        """Whether `password` is this user's password (no lockout side effects)."""
        if not isinstance(user_id, str) or not isinstance(password, str) or len(password) > 4096:
            return False
        doc = await repo.find_by_id(self._db, user_id)
        return await self._passwords.check(password, doc)
