"""ApiKeyService.create: an expiry past what a date can hold, even past what a timedelta can
(both found by schemathesis as 500s), and a lifetime that is not text."""

from __future__ import annotations

import pytest

from apsara_core.errors import ValidationError
from tests.factories import create_user, principal_of


@pytest.mark.parametrize("lifetime", ["440500070h", "201793992w", "\f 99999999999999999999d\n"])
async def test_an_api_key_lifetime_past_year_9999_expires_at_the_last_date(
    core, lifetime: str
) -> None:
    bob = principal_of(await create_user(core, "bob@example.com"))
    created = await core.api_keys.create(actor=bob, name="forever", expires_in=lifetime)
    assert created["expiresAt"].year == 9999


@pytest.mark.parametrize("lifetime", [30, "0d", "soon", ["30d"]])
async def test_a_lifetime_that_is_not_a_duration_names_the_field(core, lifetime) -> None:
    bob = principal_of(await create_user(core, "bob@example.com"))
    with pytest.raises(ValidationError, match="expiresIn must be a duration") as err:
        await core.api_keys.create(actor=bob, name="k", expires_in=lifetime)
    assert err.value.field == "expiresIn"
    assert await core.db.api_keys.count_documents({}) == 0
