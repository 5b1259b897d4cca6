"""The audit trail: entries recorded for admin actions, readable by admins only."""

from __future__ import annotations

import pytest

from apsara_core.core import Core
from apsara_core.errors import PermissionDeniedError, ValidationError
from apsara_core.models import Principal
from tests.factories import create_user, principal_of


async def test_admin_actions_recorded_newest_first_with_actor(core: Core) -> None:
    admin = principal_of(await create_user(core, "admin@example.com", role="admin"))
    created = await core.users.create(actor=admin, email="t@example.com", full_name="T")
    await core.users.set_plan(actor=admin, user="t@example.com", plan="premium")
    await core.users.delete(actor=admin, user="t@example.com")
    entries = await core.audit.list(actor=admin)
    assert [e["action"] for e in entries] == ["user.delete", "user.set_plan", "user.create"]
    assert all(
        e["actorId"] == admin.user_id
        and e["actorEmail"] == "admin@example.com"
        and e["targetId"] == created["_id"]
        for e in entries
    )
    assert entries[-1]["before"] is None and entries[-1]["after"]["email"] == "t@example.com"
    assert "password" not in str(entries)
    only = await core.audit.list(actor=admin, action="user.set_plan", limit=1)
    assert len(only) == 1


async def test_audit_is_admin_only_and_bounded(core: Core) -> None:
    user = principal_of(await create_user(core, "u@example.com"))
    with pytest.raises(PermissionDeniedError):
        await core.audit.list(actor=user)
    with pytest.raises(ValidationError):
        await core.audit.list(actor=Principal.operator(), limit=0)
