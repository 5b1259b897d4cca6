"""Maintained counters in `tallies`: what the operator views count, without scanning.

The embedded server answers every count by scanning (`count`, `collStats`, `$collStats`,
`dbStats` and `estimated_document_count` all take ~270 ms at 20,000 documents and grow with
the collection), so the views read small counter documents instead, kept with `$inc` by the
writes they count (in the same transaction where the write has one):

- `users|<role>|<plan>|<provider>`: accounts per combination (a few dozen documents), from
  which every user total, filtered or not, is summed;
- `registrations|<YYYY-MM-DD>`: accounts created that UTC day;
- `usage|<YYYY-MM-DD>|<model>`: the usage_daily sums of every user for that day and model;
- `docs|<collection>`: documents in a collection the views count (conversations, messages).

The two counters every generate writes inside its transactions (`docs|messages` and the day's
`usage|...`) are spread over SHARDS documents (`<key>#<n>`, n from the conversation or user,
see `spread`): one document written by every transaction of every user made concurrent
generates conflict with each other (16 users' concurrent generates: ~8 write conflicts and
transaction retries per generate). Readers sum the base document and its shards.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from apsara_core.repos.writes import Update
from apsara_core.vocabulary import AUTH_PROVIDERS, PLANS, ROLES

Session = AsyncClientSession | None
COUNTED = ("conversations", "messages")  # collections with a `docs|<name>` counter
USER_FIELDS = frozenset({"role", "subscriptionPlan", "authProvider"})
USERS, REGISTRATIONS, DOCS, USAGE = "users|", "registrations|", "docs|", "usage|"
SHARDS, SHARD = 16, "#"  # model ids never hold "#" (provider_catalog.MODEL)


def user_key(doc: Mapping[str, Any]) -> str:
    """The combination counter of a user document."""
    role, plan = doc.get("role", "user"), doc.get("subscriptionPlan", "free")
    return f"{USERS}{role}|{plan}|{doc.get('authProvider', 'local')}"


def registration_key(day: str) -> str:
    """The registrations counter of a UTC day ("YYYY-MM-DD")."""
    return f"{REGISTRATIONS}{day}"


def spread(key: str, by: str | None) -> str:
    """The shard of counter `key` written for `by` (a conversation or user id), or `key`
    itself when `by` is None (rare writes: deletions, seeding, recounts)."""
    return key if by is None else f"{key}{SHARD}{zlib.crc32(by.encode()) % SHARDS}"


def _unsharded(key: str) -> str:
    return key.split(SHARD, 1)[0]


def docs_key(collection: str, by: str | None = None) -> str:
    """The document counter of a collection (its shard for `by`, see `spread`)."""
    return spread(f"{DOCS}{collection}", by)


def usage_key(day: str, model: str, by: str | None = None) -> str:
    """The whole database's usage counter of a UTC day and model (usage_daily's sums; its
    shard for `by`, see `spread`)."""
    return spread(f"{USAGE}{day}|{model}", by)


def bump(key: str, n: int) -> Update:
    """A write adding `n` to counter `key` (created at 0 when missing)."""
    return Update("tallies", {"_id": key}, {"$inc": {"n": n}}, upsert=True)


def user_added(doc: Mapping[str, Any]) -> list[Update]:
    """The counter writes of a new account."""
    day = doc["createdAt"].date().isoformat()
    return [bump(user_key(doc), 1), bump(registration_key(day), 1)]


def user_removed(doc: Mapping[str, Any]) -> list[Update]:
    """The counter writes of a deleted account (its registration day stays counted)."""
    return [bump(user_key(doc), -1)]


def user_changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Update]:
    """The counter writes of a role, plan or provider change (none when the key is the same)."""
    old, new = user_key(before), user_key(after)
    return [] if old == new else [bump(old, -1), bump(new, 1)]


async def apply(db: AsyncDatabase, updates: Iterable[Update], *, session: Session = None) -> None:
    """Run counter writes (inside the caller's transaction when given).

    Raises:
        DuplicateKeyError: inside a transaction, on a racing first write (caller retries).
    """
    for u in updates:
        if isinstance(u.update, dict) and u.update.get("$inc", {}).get("n", 1) == 0:
            continue
        try:
            await db.tallies.update_one(u.filter, u.update, upsert=True, session=session)
        except DuplicateKeyError:  # a parallel first write created the counter
            if session is not None:
                raise
            await db.tallies.update_one(u.filter, u.update)


async def add_many(
    db: AsyncDatabase, increments: Mapping[str, Mapping[str, int]], *, replace: bool = False
) -> None:
    """Add to many counters at once (bulk seeding), or set them (`replace`, a recount): one
    unordered bulk write."""
    op = "$set" if replace else "$inc"
    ops = [
        UpdateOne({"_id": k}, {op: dict(fields)}, upsert=True) for k, fields in increments.items()
    ]
    if ops:
        await db.tallies.bulk_write(ops, ordered=False)


async def user_combinations(db: AsyncDatabase) -> dict[tuple[str, str, str], int]:
    """Accounts per (role, plan, provider): one `$in` read of the few combination counters."""
    keys = [f"{USERS}{r}|{p}|{a}" for r in ROLES for p in PLANS for a in AUTH_PROVIDERS]
    found = await db.tallies.find({"_id": {"$in": keys}}, {"n": 1}).to_list(None)
    out: dict[tuple[str, str, str], int] = {}
    for doc in found:
        _, role, plan, provider = str(doc["_id"]).split("|")
        if doc.get("n", 0):
            out[(role, plan, provider)] = int(doc["n"])
    return out


async def registrations(db: AsyncDatabase, days: list[str]) -> dict[str, int]:
    """Accounts created on each of `days`."""
    keys = [registration_key(d) for d in days]
    found = await db.tallies.find({"_id": {"$in": keys}}, {"n": 1}).to_list(None)
    return {str(d["_id"])[len(REGISTRATIONS) :]: int(d.get("n", 0)) for d in found}


async def usage_days(db: AsyncDatabase, first: str, last: str) -> list[dict[str, Any]]:
    """The whole database's usage counters from day `first` to `last` ("YYYY-MM-DD"), each
    with its `date` and `model`: one document per day and model, whatever the users."""
    low, high = f"{USAGE}{first}|", f"{USAGE}{last}|\uffff"
    # an `_id` range is a scan of `tallies` on the embedded server: it stays small (a few
    # dozen user combinations, one document per day, per day and model, per counted collection)
    found = await db.tallies.find({"_id": {"$gte": low, "$lt": high}}).to_list(None)
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for doc in found:
        _, date, model = _unsharded(str(doc.pop("_id"))).split("|", 2)
        row = rows.setdefault((date, model), {"date": date, "model": model})
        for name, value in doc.items():
            row[name] = row.get(name, 0) + value
    return list(rows.values())


async def docs(db: AsyncDatabase, collections: list[str]) -> dict[str, int]:
    """The maintained document counts of `collections` (those with a counter)."""
    keys = [k for c in collections for k in _with_shards(docs_key(c))]
    found = await db.tallies.find({"_id": {"$in": keys}}, {"n": 1}).to_list(None)
    out: dict[str, int] = {}
    for d in found:
        name = _unsharded(str(d["_id"]))[len(DOCS) :]
        out[name] = out.get(name, 0) + int(d.get("n", 0))
    return out


def _with_shards(key: str) -> list[str]:
    return [key, *(f"{key}{SHARD}{n}" for n in range(SHARDS))]
