"""Subscription plans as data: seeded with the spec's table, listed, changed by admins (audited).

A plan document is `{name, models: {model: {daily: int|None, total: int|None}}, groups:
{name: {models: [model], daily, total}}, features, updatedAt}` (groups: plan_groups.py). A model counts against `total` (a lifetime allowance, guests) when `total` is set,
else against `daily` (reset at 00:00 UTC). Plans are read through a short in-process cache
(`cache_seconds`): they are configuration, not counters, and the reservation path must cost
one database round trip. A change made in this process is visible at once; other processes
see it within `cache_seconds`.
"""

from __future__ import annotations

import builtins
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
from apsara_core.services.plan_groups import (
    check_group_name,
    check_members,
    effective_models,
    group_counter,
    group_of,
    groups_of,
    with_group,
)
from apsara_core.services.plan_seed import (
    FLASH,
    KNOWN_MODELS,
    SEED_PLANS,
    file_limits_of,
    limit_entry,
    parse_limit_bytes,
)
from apsara_core.vocabulary import PLANS

MAX_LIMIT = 1_000_000_000


@dataclass(frozen=True)
class ModelLimit:
    """What a plan allows for one model: `limit` messages per UTC day or in total."""

    plan: str
    model: str
    kind: Literal["daily", "total"]
    limit: int
    group: str | None = None

    @property
    def counter(self) -> str:
        """What the admission counter is named by: the model, or its group (`group:NAME`)."""
        return self.model if self.group is None else group_counter(self.group)


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


def public(doc: dict[str, Any]) -> dict[str, Any]:
    """A plan as callers see it."""
    return {
        "name": doc["name"],
        "models": doc.get("models", {}),
        "groups": groups_of(doc),
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
        _admin(actor)
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
        """Models any plan lists (alone or in a group), plus the built-in ones and those of
        declared providers."""
        plans = await self._plans()
        declared = await self._provider_models() if self._provider_models else []
        return sorted(KNOWN_MODELS.union(declared, *(effective_models(p) for p in plans.values())))

    async def _known(self, model: Any) -> None:
        models = await self.known_models()
        if not isinstance(model, str) or model not in models:
            raise ValidationError(
                f"Unknown model {model!r}; expected one of {', '.join(models)}", field="model"
            )

    async def limit_for(self, *, plan: str, model: str) -> ModelLimit:
        """What `plan` allows for `model`: its own limit, or its group's (shared).

        Raises:
            ValidationError: unknown model (field "model") or unknown plan (field "plan").
            PermissionDeniedError: the plan does not include the model; names the plans that do.
        """
        await self._known(model)
        doc = await self.get(name=plan)
        found = group_of(doc, model)
        group, entry = found if found is not None else (None, doc["models"].get(model) or {})
        if entry.get("total") is not None:
            return ModelLimit(plan, model, "total", int(entry["total"]), group)
        if entry.get("daily") is not None:
            return ModelLimit(plan, model, "daily", int(entry["daily"]), group)
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
            if any(
                v is not None
                for k, v in (effective_models(p).get(model) or {}).items()
                if k in ("daily", "total")
            )
        ]

    async def set_limit(
        self, *, actor: Principal, plan: str, model: str, daily: Any = None, total: Any = None
    ) -> dict[str, Any]:
        """Set a plan's daily or total limit for a model (adds the model to the plan if absent).

        Exactly one of `daily` / `total` is given; the other kind is cleared. Audited.

        Raises:
            PermissionDeniedError: the actor is not an admin.
            ValidationError: unknown plan or model, both or neither limit, a bad number, or
                the model is in a group of the plan (its limit is the group's).
        """
        _admin(actor)
        await self.get(name=plan)
        await self._known(model)
        entry = _limit_entry(daily, total)

        def change(doc: dict[str, Any]) -> tuple[dict[str, Any], Any, Any]:
            found = group_of(doc, model)
            if found is not None:
                raise ValidationError(
                    f"{model} is in group {found[0]!r} of plan {plan!r}, whose limit it shares; "
                    f"change it with: apsara plan group {plan} {found[0]} ...",
                    field="model",
                )
            models = {**doc.get("models", {}), model: entry}
            before = {"model": model, "limits": doc.get("models", {}).get(model)}
            return {"models": models}, before, {"model": model, "limits": entry}

        return await self._edit(actor, plan, "plan.set_limit", change)

    async def set_group(
        self,
        *,
        actor: Principal,
        plan: str,
        group: str,
        models: Any,
        daily: Any = None,
        total: Any = None,
    ) -> dict[str, Any]:
        """Create or replace a model group of a plan: `models` share one daily or total limit.

        The group's models leave the plan's per-model table (the group's limit is theirs).
        Audited.

        Raises:
            PermissionDeniedError: the actor is not an admin.
            ValidationError: unknown plan or model, a model in another group of the plan, a bad
                group name, both or neither limit, a bad number.
        """
        _admin(actor)
        await self.get(name=plan)
        check_group_name(group)
        known = await self.known_models()
        limits = _limit_entry(daily, total)

        def change(doc: dict[str, Any]) -> tuple[dict[str, Any], Any, Any]:
            members = check_members(doc, group=group, models=models, known=known)
            entry = {"models": members, **limits}
            before = {"group": group, "limits": groups_of(doc).get(group)}
            before["models"] = {m: doc.get("models", {}).get(m) for m in members}
            return with_group(doc, group=group, entry=entry), before, {"group": group, **entry}

        return await self._edit(actor, plan, "plan.set_group", change)

    async def remove_group(self, *, actor: Principal, plan: str, group: str) -> dict[str, Any]:
        """Remove a model group from a plan; its models leave the plan. Audited.

        Raises:
            PermissionDeniedError: the actor is not an admin.
            ValidationError: unknown plan, or the plan has no such group (field "group").
        """
        _admin(actor)
        await self.get(name=plan)

        def change(doc: dict[str, Any]) -> tuple[dict[str, Any], Any, Any]:
            if group not in groups_of(doc):
                names = ", ".join(sorted(groups_of(doc))) or "none"
                raise ValidationError(
                    f"Plan {plan!r} has no group {group!r} (its groups: {names})", field="group"
                )
            before = {"group": group, "limits": groups_of(doc)[group]}
            return with_group(doc, group=group, entry=None), before, {"group": group}

        return await self._edit(actor, plan, "plan.remove_group", change)

    async def _edit(self, actor: Principal, plan: str, action: str, change: Change) -> Any:
        """Apply `change` to the stored plan and audit it in one transaction; retried when
        another admin changed the plan meanwhile (optimistic, on `updatedAt`)."""
        for _ in range(10):
            after = await run_in_transaction(
                self._db, lambda s: self._store(s, actor, plan, action, change)
            )
            if after is not None:
                self.invalidate()
                return after
        raise ValidationError(
            f"Plan {plan!r} is being changed by someone else; try again", field="plan"
        )

    async def _store(
        self, session: Any, actor: Principal, plan: str, action: str, change: Change
    ) -> dict[str, Any] | None:
        """Replace the plan's tables and audit it in one transaction; None if raced."""
        doc = await repo.find_plan(self._db, plan)
        assert doc is not None  # checked by get(); plans are never deleted
        tables, before, after = change(doc)
        now = self._clock.now()
        if not await repo.replace_models(
            self._db,
            name=plan,
            expected=doc["updatedAt"],
            models=tables["models"],
            groups=tables.get("groups"),
            now=now,
            session=session,
        ):
            return None
        await self._audit.record(
            actor=actor,
            action=action,
            target_id=f"plan:{plan}",
            before=before,
            after=after,
            session=session,
        )
        return public({**doc, **tables, "updatedAt": now})


Change = Callable[[dict[str, Any]], tuple[dict[str, Any], Any, Any]]


def _admin(actor: Principal) -> None:
    if not actor.is_admin:
        raise PermissionDeniedError("Only admins can change plans", field="plan")


def _limit_entry(daily: Any, total: Any) -> dict[str, int | None]:
    """{daily, total} with exactly one of them set, checked.

    Raises:
        ValidationError: both or neither given, or a bad number (field named).
    """
    if (daily is None) == (total is None):
        raise ValidationError("Give exactly one of --daily N or --total N", field="daily")
    if daily is not None:
        return limit_entry(daily=parse_limit(daily, "daily"))
    return limit_entry(total=parse_limit(total, "total"))
