"""ApiKeyService.create: an expiry past what a date can hold (found by schemathesis: a 500)."""

from __future__ import annotations

from tests.factories import create_user, principal_of


async def test_an_api_key_lifetime_past_year_9999_expires_at_the_last_date(core) -> None:
    bob = principal_of(await create_user(core, "bob@example.com"))
    created = await core.api_keys.create(actor=bob, name="forever", expires_in="440500070h")
    assert created["expiresAt"].year == 9999
