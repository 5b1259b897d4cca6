"""SessionService.act_for: an HTTP body's `userId` is honoured only for admins."""

from __future__ import annotations

import pytest

from apsara_core.errors import NotFoundError, ValidationError
from tests.factories import create_user, principal_of


async def test_an_admin_naming_a_user_acts_as_that_user(core) -> None:
    admin = principal_of(await create_user(core, "admin@example.com", role="admin"))
    ada = await create_user(core, "ada@example.com", plan="premium")
    acting = await core.sessions.act_for(admin, ada["_id"])
    assert (acting.user_id, acting.email, acting.plan, acting.is_admin) == (
        ada["_id"],
        "ada@example.com",
        "premium",
        False,
    )
    assert await core.sessions.act_for(admin, None) is admin
    with pytest.raises(NotFoundError) as info:
        await core.sessions.act_for(admin, "0123456789abcdef01234567")
    assert info.value.field == "userId"


async def test_anyone_else_naming_a_user_stays_themselves(core) -> None:
    bob = principal_of(await create_user(core, "bob@example.com"))
    ada = await create_user(core, "ada@example.com")
    assert await core.sessions.act_for(bob, ada["_id"]) is bob
    assert await core.sessions.act_for(bob, "no-such-user") is bob


async def test_a_blank_or_overlong_user_id_is_refused_for_anyone(core) -> None:
    bob = principal_of(await create_user(core, "bob@example.com"))
    admin = principal_of(await create_user(core, "admin@example.com", role="admin"))
    for actor in (bob, admin):
        for bad in ("", "  ", "x" * 101):
            with pytest.raises(ValidationError) as info:
                await core.sessions.act_for(actor, bad)
            assert info.value.field == "userId"
