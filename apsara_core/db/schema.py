"""Collections, their indexes and the schema version, created idempotently at start.

Every query path of the repos has an index here: the embedded server scans without one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure

from apsara_core.db.migrations import MIGRATIONS

SCHEMA_VERSION = 5


@dataclass(frozen=True)
class Index:
    """One index: its keys and options (unique, ttl, partial filter)."""

    keys: list[tuple[str, int]]
    unique: bool = False
    ttl_seconds: int | None = None
    partial: dict[str, Any] | None = None
    name: str | None = None

    def options(self, *, ttl: bool = True) -> dict[str, Any]:
        """Keyword arguments for `create_index`; `ttl=False` leaves a TTL index plain (the
        embedded server, where db/expiry.py expires its documents)."""
        opts: dict[str, Any] = {"name": self.name or "_".join(f"{k}_{d}" for k, d in self.keys)}
        if self.unique:
            opts["unique"] = True
        if ttl and self.ttl_seconds is not None:
            opts["expireAfterSeconds"] = self.ttl_seconds
        if self.partial is not None:
            opts["partialFilterExpression"] = self.partial
        return opts


@dataclass(frozen=True)
class Collection:
    """A collection and the indexes it needs."""

    name: str
    purpose: str
    indexes: list[Index] = field(default_factory=list)


A, D = ASCENDING, DESCENDING

COLLECTIONS: list[Collection] = [
    Collection(
        "users",
        "accounts: local, Google and guest",
        [
            Index([("email", A)], unique=True),
            Index([("googleId", A)], unique=True, partial={"googleId": {"$type": "string"}}),
            Index([("role", A), ("createdAt", D)]),
            Index([("subscriptionPlan", A), ("createdAt", D)]),
            Index([("createdAt", D)]),
            Index([("authProvider", A), ("createdAt", D)]),
            Index([("searchWords", A)]),  # search by name/email words (repos/search_words.py)
            Index(
                [("guestClientKey", A)],
                unique=True,
                partial={"guestClientKey": {"$type": "string"}},
            ),
        ],
    ),
    # `_id` is the userId (see migrations.key_by_public_id).
    Collection(
        "user_usage",
        "per-user usage totals and history",
        [Index([("ranks.score", D)])],  # most active users (repos/ranks.py)
    ),
    Collection(
        "usage_daily",
        "per-user, per-model, per-UTC-day usage history (statistics)",
        [
            Index([("userId", A), ("date", A), ("model", A)], unique=True),
            Index([("date", A), ("model", A)]),
        ],
    ),
    # Only _id ("user|date|model"): each secondary index adds ~0.3 ms to every update on the
    # embedded server, and a reservation is one update of this collection.
    Collection("quota_counters", "quota admission counters (one per user, model and day)", []),
    Collection(
        "reservation_closures",
        "committed or refunded quota reservations",
        [
            Index([("closedAt", A)], ttl_seconds=7 * 86400),
        ],
    ),
    # Only _id (the reservation's): it holds the replies whose accounting is still being
    # applied, a handful at a time, so the sweep's scan stays small.
    Collection(
        "reply_accounting",
        "stored replies whose usage accounting is not applied yet (services/reply_accounting.py)",
        [],
    ),
    Collection(
        "plans",
        "subscription plans and their model limits",
        [
            Index([("name", A)], unique=True),
        ],
    ),
    # `_id` is the instance name: every query is by `_id` or a full scan (a handful of rows).
    Collection("provider_instances", "declared AI provider instances (never their keys)", []),
    Collection(
        "request_limits",
        'HTTP request-limiter windows (_id "key|window")',
        [
            Index([("expiresAt", A)], ttl_seconds=0),
        ],
    ),
    # `_id` is the normalised email (with or without an account): every query is by `_id`.
    Collection(
        "login_attempts",
        "password attempts and locks per email",
        [
            Index([("expiresAt", A)], ttl_seconds=0),
        ],
    ),
    Collection(
        "guest_caps",
        'new guest accounts per client address and UTC day (_id "address|day")',
        [
            Index([("expiresAt", A)], ttl_seconds=0),
        ],
    ),
    # `_id` is the conversationId; few secondary indexes, as each message updates the document.
    Collection(
        "conversations",
        "conversations and their stats",
        [
            Index([("userId", A), ("updatedAt", D)]),
            # everyone's listing, read in updatedAt windows (repos/common.newest_first)
            Index([("updatedAt", D)]),
            # everyone's title search (repos/search_words.py); a title changes rarely, so
            # the chat's conversation updates leave this index alone
            Index([("searchWords", A)]),
        ],
    ),
    Collection(
        "messages",
        "messages, ordered by messageSequence",
        [
            Index([("messageId", A)], unique=True),
            Index([("conversationId", A), ("messageSequence", A)], unique=True),
            Index([("userId", A), ("createdAt", D)]),
        ],
    ),
    Collection(
        "message_archive",
        "earlier versions kept by edit and regenerate",
        [
            Index([("conversationId", A), ("branchId", A), ("messageSequence", A)]),
            Index([("messageId", A), ("archivedAt", D)]),
        ],
    ),
    Collection(
        "files",
        "uploaded files and where they are stored",
        [
            Index([("fileId", A)], unique=True),
            Index([("userId", A), ("createdAt", D)]),
        ],
    ),
    # `_id` is the userId: {files, bytes} stored, checked and counted atomically at upload.
    Collection("file_usage", "stored files and bytes per user (the plan's file limits)", []),
    Collection(
        "otps",
        "hashed one-time codes (expire after 10 minutes)",
        [
            Index([("email", A), ("purpose", A)]),
            Index([("expiresAt", A)], ttl_seconds=0),
        ],
    ),
    Collection(
        "revoked_tokens",
        "revoked session token ids until they expire",
        [
            Index([("jti", A)], unique=True),
            Index([("expiresAt", A)], ttl_seconds=0),
        ],
    ),
    Collection(
        "api_keys",
        "personal API keys (SHA-256 of the key only)",
        [
            Index([("hash", A)], unique=True),
            Index([("keyId", A)], unique=True),
            Index([("userId", A), ("createdAt", D)]),
        ],
    ),
    Collection(
        "mail_outbox",
        "mails kept when no SMTP server is set",
        [
            Index([("to", A), ("createdAt", D)]),
            Index([("createdAt", D)]),
        ],
    ),
    Collection(
        "jobs",
        "background plugin jobs",
        [
            Index([("jobId", A)], unique=True),
            Index([("status", A), ("createdAt", A)]),  # claim: oldest queued
            Index([("status", A), ("leaseUntil", A)]),  # claim: expired leases
            Index([("userId", A), ("createdAt", D)]),
            Index(  # a retried request with the same key gets the same job
                [("userId", A), ("idempotencyKey", A)],
                unique=True,
                partial={"idempotencyKey": {"$type": "string"}},
            ),
        ],
    ),
    Collection(
        "audit",
        "who changed what, when, before and after",
        [
            Index([("at", D)]),
            Index([("targetId", A), ("at", D)]),
            Index([("action", A), ("at", D)]),
        ],
    ),
    Collection("meta", "schema version", []),
    # `_id` is the counter's name (repos/tallies.py): read by `$in` on `_id` only.
    Collection("tallies", "maintained counts the operator views read instead of scanning", []),
]


def fingerprint(*, sweep_ttl: bool = False) -> str:
    """A hash of the declared collections and indexes (and of whether TTL indexes are plain):
    unchanged means nothing to create."""
    declared = (SCHEMA_VERSION, COLLECTIONS, "plain ttl" if sweep_ttl else "ttl")
    return hashlib.sha256(repr(declared).encode()).hexdigest()[:16]


async def ensure_schema(
    db: AsyncDatabase, *, now: datetime, force: bool = False, sweep_ttl: bool = False
) -> int:
    """Migrate data written by an older version (db/migrations.py), create missing collections
    and indexes, and record the schema version (checked at `now`).

    `sweep_ttl` (the embedded server) creates the TTL indexes as plain indexes: Apsara's own
    sweeper expires their documents (db/expiry.py). An index whose TTL option differs from
    the wanted one (a database moved between the two kinds of server) is dropped and created
    again. Safe to run from several processes at once: creating an existing index is a no-op.
    When the recorded fingerprint matches the declared schema, nothing is sent but one read.

    Returns:
        The schema version now recorded.
    """
    wanted = fingerprint(sweep_ttl=sweep_ttl)
    doc = await db.meta.find_one({"_id": "schema"})
    if doc and doc.get("fingerprint") == wanted and not force:
        return int(doc["version"])
    recorded = int(doc["version"]) if doc else 0
    for version, migrate in sorted(MIGRATIONS.items()):
        if 0 < recorded < version:  # a fresh database (0) has nothing to migrate
            await migrate(db)
    existing = set(await db.list_collection_names())
    for coll in COLLECTIONS:
        await _ensure_collection(db, coll, exists=coll.name in existing, sweep_ttl=sweep_ttl)
    await db.meta.update_one(
        {"_id": "schema"},
        {"$max": {"version": SCHEMA_VERSION}, "$set": {"fingerprint": wanted, "checkedAt": now}},
        upsert=True,
    )
    doc = await db.meta.find_one({"_id": "schema"})
    return int(doc["version"]) if doc else SCHEMA_VERSION


async def _ensure_collection(
    db: AsyncDatabase, coll: Collection, *, exists: bool, sweep_ttl: bool
) -> None:
    """Create `coll` and its indexes in one createIndexes command (which creates the
    collection too); a collection without indexes is created on its own. Only an existing
    collection's indexes are read, to replace one whose TTL option differs."""
    if not coll.indexes:
        if not exists:
            try:
                await db.create_collection(coll.name, check_exists=False)
            except OperationFailure as exc:  # another process created it first
                if "already exists" not in str(exc).lower():
                    raise
        return
    models = [IndexModel(index.keys, **index.options(ttl=not sweep_ttl)) for index in coll.indexes]
    if exists:
        current = await db[coll.name].index_information()
        for model in models:
            name = model.document["name"]
            have = current.get(name)
            if have is not None and have.get("expireAfterSeconds") != model.document.get(
                "expireAfterSeconds"
            ):
                await _drop_index(db[coll.name], name)
    await db[coll.name].create_indexes(models)


async def _drop_index(coll: AsyncCollection, name: str) -> None:
    """Drop index `name`; one that another process dropped first is fine."""
    try:
        await coll.drop_index(name)
    except OperationFailure as exc:
        if "not found" not in str(exc).lower():
            raise
