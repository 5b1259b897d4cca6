"""Guests: one guest account per client key, and a cap on NEW guest accounts per client
address and UTC day (APSARA_GUEST_ACCOUNTS_PER_ADDRESS_PER_DAY).

The client key is chosen by the client, so without the cap every new key was a fresh guest
with a fresh allowance. The cap is a speed bump, not identity: clients behind one NAT share
it, and an attacker with many addresses gets N guests per address. The operator's own front
ends (CLI, TUI) pass LOCAL_ADDRESS and are not capped.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from apsara_core.clock import Clock, next_midnight
from apsara_core.config import Settings
from apsara_core.errors import RateLimitError, ValidationError
from apsara_core.repos import guest_caps
from apsara_core.repos import users as repo
from apsara_core.services.users import new_user_doc

LOCAL_ADDRESS = "local"
GUEST_DOMAIN = "guest.apsara.invalid"
MAX_ADDRESS_LENGTH = 100


def address_key(address: object) -> str:
    """The address a cap is counted for: an IPv4 address, an IPv6 /64 (one subscriber's
    usual allocation, so hopping inside it gains nothing), or the text as given.

    Raises:
        ValidationError: an empty, non-string or over-long address.
    """
    if not isinstance(address, str) or not address.strip() or len(address) > MAX_ADDRESS_LENGTH:
        raise ValidationError(f"address must be 1-{MAX_ADDRESS_LENGTH} characters", field="address")
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address.strip()
    if ip.version == 6 and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip.ipv4_mapped or ip) if ip.version == 6 else str(ip)


class GuestAccounts:
    """Finds or creates the guest of a client key, within the per-address cap."""

    def __init__(self, *, db: AsyncDatabase, settings: Settings, clock: Clock) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock

    async def find_or_create(self, client_key: str, address: str) -> dict[str, Any]:
        """The guest of `client_key`, created when new (counted against `address`).

        The guest is inserted first and counted after: parallel first logins with one key
        collide on the unique key and share that guest without spending the cap. A guest
        over the cap is deleted again (it never had a session or any data).

        Raises:
            RateLimitError: the address made its new guests for today (reset: next 00:00 UTC).
        """
        key = LOCAL_ADDRESS if address == LOCAL_ADDRESS else address_key(address)
        user = await repo.find_guest_by_key(self._db, client_key)
        if user is not None:
            return user
        user, created = await self._create(client_key)
        if not created or key == LOCAL_ADDRESS:
            return user
        now = self._clock.now()
        tomorrow = next_midnight(now.date())
        limit = self._settings.guest_accounts_per_address_per_day
        if await guest_caps.take(
            self._db,
            address=key,
            day=now.strftime("%Y-%m-%d"),
            limit=limit,
            expires_at=tomorrow + timedelta(hours=1),
        ):
            return user
        await repo.delete_new_guest(self._db, str(user["_id"]))
        raise RateLimitError(
            f"Too many new guest accounts from this address today: at most {limit} per day",
            reset_time=tomorrow,
            suggestions=["Sign in with the client key you used before, or register"],
            usage_info={"scope": "guestAccounts", "limit": limit},
        )

    async def _create(self, client_key: str) -> tuple[dict[str, Any], bool]:
        """The new guest and True, or the one a parallel first login made and False."""
        user_id = repo.new_id()
        doc = new_user_doc(
            email=f"guest-{user_id}@{GUEST_DOMAIN}",
            full_name="Guest",
            password=None,
            role="guest",
            plan="guest",
            provider="guest",
            guestClientKey=client_key,
            now=self._clock.now(),
        )
        doc["_id"] = user_id
        try:
            await repo.insert(self._db, doc)
        except DuplicateKeyError:
            return await repo.find_guest_by_key(self._db, client_key) or doc, False
        return doc, True
