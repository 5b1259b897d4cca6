"""Management action 11: the database, its collections, counts, indexes and schema version.

Users, conversations and messages are counted from the maintained tallies (the embedded
server's `count` scans: ~7 s on 200,000 messages). The other collections are counted by the
server's metadata (`estimated_document_count`) on a real MongoDB, where it is; on the embedded
server that would be a scan of each, so they are shown as not counted (`documents` None).
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from apsara_core.db.client import Target
from apsara_core.db.schema import COLLECTIONS
from apsara_core.errors import PermissionDeniedError
from apsara_core.models import Principal
from apsara_core.repos import tallies


class DatabaseInfoService:
    """Reads what the database holds; never writes."""

    def __init__(
        self, *, db: AsyncDatabase, target: Target, schema_version: int, embedded_server: bool
    ) -> None:
        self._db = db
        self._target = target
        self._schema_version = schema_version
        self._embedded_server = embedded_server  # its counts scan (decided once at open)

    async def info(self, *, actor: Principal) -> dict[str, Any]:
        """Server, schema version and every collection with its count (None: not counted,
        see the module) and indexes (admins).

        Raises:
            PermissionDeniedError: the actor is not an admin.
        """
        if not actor.is_admin:
            raise PermissionDeniedError("Only admins can read the database's schema and counts")
        db = self._db
        purposes = {c.name: c.purpose for c in COLLECTIONS}
        swept = {  # TTL indexes the embedded server holds as plain ones (db/expiry.py)
            (c.name, i.options()["name"]): i.ttl_seconds for c in COLLECTIONS for i in c.indexes
        }
        names = sorted(set(await db.list_collection_names()) | set(purposes))
        collections = []
        counted = await tallies.docs(db, list(tallies.COUNTED))
        combos = await tallies.user_combinations(db)
        counted["users"] = sum(combos.values())
        scans = self._embedded_server
        for name in names:
            indexes = await db[name].index_information()
            collections.append(
                {
                    "name": name,
                    "purpose": purposes.get(name, ""),
                    "documents": await _count(db, name, counted, scans),
                    "indexes": [
                        _describe(idx_name, spec, swept.get((name, idx_name)))
                        for idx_name, spec in indexes.items()
                    ],
                }
            )
        target = self._target
        return {
            "server": {
                "address": target.label,
                "embedded": target.embedded,
                "database": target.database,
            },
            "schemaVersion": self._schema_version,
            "collections": collections,
        }


async def _count(db: AsyncDatabase, name: str, counted: dict[str, int], scans: bool) -> int | None:
    """A collection's documents: its maintained counter, else the server's metadata count,
    or None (not counted) where that count is a scan (the embedded server)."""
    if name in counted:
        return counted[name]
    return None if scans else await db[name].estimated_document_count()


def _describe(name: str, spec: dict[str, Any], declared_ttl: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name,
        "keys": {k: d for k, d in spec["key"]},
        "unique": bool(spec.get("unique", False)),
    }
    if "expireAfterSeconds" in spec:
        out["ttlSeconds"] = spec["expireAfterSeconds"]
    elif declared_ttl is not None:  # a plain index on the embedded server: Apsara expires
        out["ttlSeconds"] = declared_ttl
        out["expiredBy"] = "apsara"
    if "partialFilterExpression" in spec:
        out["partial"] = dict(spec["partialFilterExpression"])
    return out
