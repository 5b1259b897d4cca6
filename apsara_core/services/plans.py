"""Subscription plans as data: seeded with the spec's table, listed, changed by admins (audited).

A plan document is `{name, models: {model: {daily: int|None, total: int|None}}, features,
updatedAt}`. A model counts against `total` (a lifetime allowance, guests) when `total` is set,
else against `daily` (reset at 00:00 UTC). Plans are read through a short in-process cache
(`cache_seconds`): they are configuration, not counters, and the reservation path must cost
one database round trip. A change made in this process is visible at once; other processes
see it within `cache_seconds`.
"""

from __future__ import annotations

import builtins
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from pymongo.asynchronous.database import AsyncDatabase

from apsara_core.clock import Clock
from apsara_core.db.transactions import run_in_transaction
from apsara_core.errors import PermissionDeniedError, ValidationError
from apsara_core.models import Principal
from apsara_core.repos import plans as repo
from apsara_core.services.audit import AuditService
from apsara_core.vocabulary import DEFAULT_EMBEDDING_MODEL, DEFAULT_MODEL, PLANS, PRO_MODEL

FLASH, PRO, EMBED = DEFAULT_MODEL, PRO_MODEL, DEFAULT_EMBEDDING_MODEL
MAX_LIMIT = 1_000_000_000


def _entry(daily: int | None = None, total: int | None = None) -> dict[str, int | None]:
    return {"daily": daily, "total": total}


MB = 1024 * 1024
# Stored files per user: guests none (they sign up first), free 20 / 100 MB, premium 500 / 5 GB.
FILE_LIMITS = {
    "guest": {"maxFiles": 0, "maxBytes": 0},
    "free": {"maxFiles": 20, "maxBytes": 100 * MB},
    "premium": {"maxFiles": 500, "maxBytes": 5 * 1024 * MB},
}
SEED_PLANS: list[dict[str, Any]] = [
    {
        "name": "guest",
        "features": ["Trial access", "24h session"],
        "models": {FLASH: _entry(total=5)},
        "files": FILE_LIMITS["guest"],
    },
    {
        "name": "free",
        "features": ["Full features", "Daily reset"],
        "models": {FLASH: _entry(daily=20), PRO: _entry(daily=5), EMBED: _entry(daily=100)},
        "files": FILE_LIMITS["free"],
    },
    {
        "name": "premium",
        "features": ["Priority support", "Analytics"],
        "models": {FLASH: _entry(daily=100), PRO: _entry(daily=50), EMBED: _entry(daily=1000)},
        "files": FILE_LIMITS["premium"],
    },
]
KNOWN_MODELS = frozenset({FLASH, PRO, EMBED})


@dataclass(frozen=True)
class ModelLimit:
    """What a plan allows for one model: `limit` messages per UTC day or in total."""

    plan: str
    model: str
    kind: Literal["daily", "total"]
    limit: int


def parse_limit(value: Any, field: str) -> int:
    """A limit as a non-negative integer, from an int or a string of digits.

    Raises:
        ValidationError: negative, fractional, non-numeric, huge, or not a number at all.
    """
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_LIMIT:
        raise ValidationError(
            f"{field} must be a whole number from 0 to {MAX_LIMIT}, got {value!r}", field=field
        )
    return value


def file_limits_of(doc: dict[str, Any]) -> dict[str, int]:
    """A plan's file limits {maxFiles, maxBytes}: stored, else the default of its name (plans
    stored before file limits existed have none), else none allowed."""
    default = FILE_LIMITS.get(doc["name"], {"maxFiles": 0, "maxBytes": 0})
    return {**default, **(doc.get("files") or {})}


_BYTE_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_BYTE_UNITS |= {"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}


def parse_limit_bytes(value: Any, field: str) -> int:
    """A byte count from 0 to 1 PiB: an int, a string of digits, or a size such as "100MB" or
    "5 GiB" (decimal KB/MB/GB/TB, binary KiB/MiB/GiB/TiB).

    Raises:
        ValidationError: not such a number.
    """
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", value)
        if match and match[2].lower() in _BYTE_UNITS:
            value = int(match[1]) * _BYTE_UNITS[match[2].lower()]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1 << 50:
        raise ValidationError(
            f"{field} must be a whole number of bytes from 0 to {1 << 50} (or a size such as "
            f"100MB or 5GiB), got {value!r}",
            field=field,
        )
    return value


def public(doc: dict[str, Any]) -> dict[str, Any]:
    """A plan as callers see it."""
    return {
        "name": doc["name"],
        "models": doc.get("models", {}),
        "features": doc.get("features", []),
        "files": file_limits_of(doc),
        "updatedAt": doc.get("updatedAt"),
    }


def _sort_key(name: str) -> tuple[int, str]:
    return (PLANS.index(name) if name in PLANS else len(PLANS), name)


class PlanService:
    """Plans: seeded on first use, cached briefly, changed only by admins."""

    cache_seconds = 5.0

    def __init__(
        self,
        *,
        db: AsyncDatabase,
        audit: AuditService,
        clock: Clock,
        provider_models: Callable[[], Awaitable[builtins.list[str]]] | None = None,
    ) -> None:
        self._db = db
        self._audit = audit
        self._clock = clock
        self._provider_models = provider_models
        self._cache: dict[str, dict[str, Any]] | None = None
        self._loaded_at = 0.0

    def invalidate(self) -> None:
        """Forget the cached plans; the next read goes to the database."""
        self._cache = None

    async def ensure_seeded(self) -> int:
        """Insert the spec's plans that are not stored yet (idempotent, multi-process safe)."""
        now = self._clock.now()
        return await repo.insert_missing(self._db, [{**p, "updatedAt": now} for p in SEED_PLANS])

    async def _plans(self) -> dict[str, dict[str, Any]]:
        if self._cache is not None and time.monotonic() - self._loaded_at < self.cache_seconds:
            return self._cache
        docs = await repo.all_plans(self._db)
        if not {p["name"] for p in SEED_PLANS} <= {d["name"] for d in docs}:
            await self.ensure_seeded()
            docs = await repo.all_plans(self._db)
        self._cache, self._loaded_at = {d["name"]: d for d in docs}, time.monotonic()
        return self._cache

    async def list(self, *, actor: Principal | None = None) -> list[dict[str, Any]]:
        """Every plan, guest/free/premium first. Plans are public: any actor may list them."""
        plans = await self._plans()
        return [public(plans[n]) for n in sorted(plans, key=_sort_key)]

    async def get(self, *, name: str) -> dict[str, Any]:
        """One plan by name.

        Raises:
            ValidationError: no such plan (field "plan").
        """
        plans = await self._plans()
        if not isinstance(name, str) or name not in plans:
            raise ValidationError(
                f"Unknown plan {name!r}; expected one of {', '.join(sorted(plans, key=_sort_key))}",
                field="plan",
            )
        return public(plans[name])

    async def file_limits(self, *, plan: str) -> dict[str, int]:
        """What `plan` allows in stored files: {maxFiles, maxBytes}.

        Raises:
            ValidationError: no such plan.
        """
        return (await self.get(name=plan))["files"]

    async def set_file_limits(
        self, *, actor: Principal, plan: str, max_files: Any = None, max_bytes: Any = None
    ) -> dict[str, Any]:
        """Set a plan's file limits (admins; audited); applies to the next upload. A limit
        left as None keeps its current value.

        Raises:
            PermissionDeniedError: the actor is not an admin.
            ValidationError: unknown plan or a bad number.
        """
        if not actor.is_admin:
            raise PermissionDeniedError("Only admins can change plans", field="plan")
        before = await self.get(name=plan)
        if max_files is None and max_bytes is None:
            raise ValidationError("Give maxFiles, maxBytes or both", field="maxFiles")
        current = before["files"]
        files = {
            "maxFiles": parse_limit(
                current["maxFiles"] if max_files is None else max_files, "maxFiles"
            ),
            "maxBytes": parse_limit_bytes(
                current["maxBytes"] if max_bytes is None else max_bytes, "maxBytes"
            ),
        }

        async def work(session: Any) -> None:
            await repo.set_files(
                self._db, name=plan, files=files, now=self._clock.now(), session=session
            )
            await self._audit.record(
                actor=actor,
                action="plan.set_file_limits",
                target_id=f"plan:{plan}",
                before=before["files"],
                after=files,
                session=session,
            )

        await run_in_transaction(self._db, work)
        self.invalidate()
        return await self.get(name=plan)

    async def known_models(self) -> builtins.list[str]:
        """Models any plan lists, plus the built-in ones and those of declared providers."""
        plans = await self._plans()
        declared = await self._provider_models() if self._provider_models else []
        return sorted(KNOWN_MODELS.union(declared, *(p.get("models", {}) for p in plans.values())))

    async def limit_for(self, *, plan: str, model: str) -> ModelLimit:
        """What `plan` allows for `model`.

        Raises:
            ValidationError: unknown model (field "model") or unknown plan (field "plan").
            PermissionDeniedError: the plan does not include the model; names the plans that do.
        """
        models = await self.known_models()
        if not isinstance(model, str) or model not in models:
            raise ValidationError(
                f"Unknown model {model!r}; expected one of {', '.join(models)}", field="model"
            )
        entry = (await self.get(name=plan))["models"].get(model) or {}
        if entry.get("total") is not None:
            return ModelLimit(plan, model, "total", int(entry["total"]))
        if entry.get("daily") is not None:
            return ModelLimit(plan, model, "daily", int(entry["daily"]))
        allowing = await self._plans_allowing(model)
        raise PermissionDeniedError(
            f"The {plan} plan does not include {model}",
            details=f"{model} is available on: {', '.join(allowing)}"
            if allowing
            else f"No plan includes {model} yet: an admin must add it to one",
            suggestions=[
                f"Upgrade to {' or '.join(allowing)}"
                if allowing
                else f"An admin runs: apsara plan set {plan} --model {model} --daily N",
                f"Or use {FLASH}",
            ],
            code="MODEL_NOT_IN_PLAN",
            field="model",
        )

    async def _plans_allowing(self, model: str) -> builtins.list[str]:
        return [
            p["name"]
            for p in await self.list()
            if any(v is not None for v in (p["models"].get(model) or {}).values())
        ]

    async def set_limit(
        self, *, actor: Principal, plan: str, model: str, daily: Any = None, total: Any = None
    ) -> dict[str, Any]:
        """Set a plan's daily or total limit for a model (adds the model to the plan if absent).

        Exactly one of `daily` / `total` is given; the other kind is cleared. Audited.

        Raises:
            PermissionDeniedError: the actor is not an admin.
            ValidationError: unknown plan or model, both or neither limit, a bad number.
        """
        if not actor.is_admin:
            raise PermissionDeniedError("Only admins can change plans", field="plan")
        await self.get(name=plan)
        models = await self.known_models()
        if not isinstance(model, str) or model not in models:
            raise ValidationError(
                f"Unknown model {model!r}; expected one of {', '.join(models)}", field="model"
            )
        if (daily is None) == (total is None):
            raise ValidationError("Give exactly one of --daily N or --total N", field="daily")
        entry = (
            _entry(daily=parse_limit(daily, "daily"))
            if daily is not None
            else _entry(total=parse_limit(total, "total"))
        )
        for _ in range(10):  # optimistic: retry when another admin changed the plan meanwhile
            after = await run_in_transaction(
                self._db, lambda s: self._store(s, actor, plan, model, entry)
            )
            if after is not None:
                self.invalidate()
                return after
        raise ValidationError(
            f"Plan {plan!r} is being changed by someone else; try again", field="plan"
        )

    async def _store(
        self, session: Any, actor: Principal, plan: str, model: str, entry: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Replace the plan's model table and audit it in one transaction; None if raced."""
        doc = await repo.find_plan(self._db, plan)
        assert doc is not None  # checked by get(); plans are never deleted
        models, now = {**doc.get("models", {}), model: entry}, self._clock.now()
        if not await repo.replace_models(
            self._db, name=plan, expected=doc["updatedAt"], models=models, now=now, session=session
        ):
            return None
        await self._audit.record(
            actor=actor,
            action="plan.set_limit",
            target_id=f"plan:{plan}",
            before={"model": model, "limits": doc.get("models", {}).get(model)},
            after={"model": model, "limits": entry},
            session=session,
        )
        return public({**doc, "models": models, "updatedAt": now})
