"""`open_core(settings)` builds the `Core`: the one object every front end holds.

Services are created on first use so a front end pays only for what it touches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from apsara_core.config import Settings
from apsara_core.db.client import Target, connect, resolve_target
from apsara_core.db.schema import ensure_schema

if TYPE_CHECKING:
    from apsara_core.services.dbinfo import DatabaseInfoService


@dataclass(eq=False)
class Core:
    """The library's façade: settings, database and the services built on them."""

    settings: Settings
    client: AsyncMongoClient
    db: AsyncDatabase
    target: Target
    schema_version: int
    extras: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def dbinfo(self) -> "DatabaseInfoService":
        """Schema, counts and indexes (management action 11)."""
        from apsara_core.services.dbinfo import DatabaseInfoService

        return DatabaseInfoService(self)

    async def close(self) -> None:
        """Close the database client."""
        await self.client.close()


async def open_core(settings: Settings | None = None) -> Core:
    """Connect to the database (starting the embedded server when needed) and prepare it.

    Raises:
        ConfigError: an invalid setting.
        DatabaseUnavailableError: the database cannot be reached or started.
    """
    settings = settings or Settings.load()
    settings.jwt_key()  # fail at start, not at first login, on a short secret
    target = resolve_target(settings)
    client, db = await connect(target)
    try:
        version = await ensure_schema(db)
    except BaseException:
        await client.close()
        raise
    return Core(settings=settings, client=client, db=db, target=target, schema_version=version)
