"""Several writes to several collections in one round trip.

On servers that speak MongoDB 8.0's client-level `bulkWrite` (wire version 25+; the embedded
server advertises 27) a list of writes is one command; on older servers it is one command per
write, with the same results and errors. Used inside transactions (db/transactions.py),
where the writes commit or abort together: storing a message with its sequence and its quota
bookkeeping costs two round trips (the bulk write and the commit) instead of six.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from pymongo import DeleteOne, InsertOne, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ClientBulkWriteException, DuplicateKeyError, PyMongoError

CLIENT_BULK_WIRE_VERSION = 25
DUPLICATE_KEY = 11000


@dataclass(frozen=True)
class Insert:
    """Insert `document` into `collection`."""

    collection: str
    document: dict[str, Any]


@dataclass(frozen=True)
class Update:
    """Apply `update` (operators, or an update pipeline) to the first document of
    `collection` matching `filter`."""

    collection: str
    filter: dict[str, Any]
    update: dict[str, Any] | list[dict[str, Any]]
    upsert: bool = False


@dataclass(frozen=True)
class Delete:
    """Delete the first document of `collection` matching `filter`."""

    collection: str
    filter: dict[str, Any]


Write = Insert | Update | Delete


def bulk_capable(db: AsyncDatabase) -> bool:
    """Whether every known server accepts the client-level bulkWrite command."""
    version = db.client.topology_description.common_wire_version
    return version is not None and version >= CLIENT_BULK_WIRE_VERSION


async def apply(
    db: AsyncDatabase,
    writes: Sequence[Write],
    *,
    session: AsyncClientSession | None,
    bulk: bool | None = None,
) -> list[int]:
    """Run `writes` in order, stopping at the first error.

    `bulk` None picks the client bulkWrite when the server has it (see `bulk_capable`).

    Returns:
        For each write, the documents it matched, created or deleted (an insert counts 1).

    Raises:
        DuplicateKeyError: a write hit a unique index (inside a transaction, the caller's
            transaction is then aborted, as with single writes).
    """
    if not writes:
        return []
    if bulk is None:
        bulk = bulk_capable(db)
    if not bulk:
        return [await _one(db, w, session) for w in writes]
    models = [_model(db.name, w) for w in writes]
    try:
        result = await db.client.bulk_write(
            models, session=session, ordered=True, verbose_results=True
        )
    except ClientBulkWriteException as exc:
        if isinstance(exc.error, PyMongoError):  # e.g. a WriteConflict: keep its labels, so a
            raise exc.error from exc  # transaction retries as with single writes
        # pymongo annotates write_errors as WriteError exceptions; they are the server's documents
        errors = cast("list[Mapping[str, Any]]", exc.write_errors or [{}])
        first = errors[0]
        if first.get("code") == DUPLICATE_KEY:
            raise DuplicateKeyError(
                first.get("errmsg", "duplicate key"), DUPLICATE_KEY, first
            ) from exc
        raise
    return [_counted(write, result, index) for index, write in enumerate(writes)]


def _counted(write: Write, result: Any, index: int) -> int:
    """What write `index` of a client bulk write did (see `apply`)."""
    if isinstance(write, Insert):
        return 1
    if isinstance(write, Delete):
        return int(result.delete_results[index].deleted_count)
    return _touched(result.update_results[index])


def _touched(result: Any) -> int:
    """Documents an update matched, or 1 when it created one."""
    return result.matched_count or (1 if result.upserted_id is not None else 0)


def _model(db_name: str, write: Write) -> Any:
    namespace = f"{db_name}.{write.collection}"
    if isinstance(write, Insert):
        return InsertOne(dict(write.document), namespace=namespace)
    if isinstance(write, Delete):
        return DeleteOne(write.filter, namespace=namespace)
    return UpdateOne(write.filter, write.update, upsert=write.upsert, namespace=namespace)


async def _one(db: AsyncDatabase, write: Write, session: AsyncClientSession | None) -> int:
    coll = db[write.collection]
    if isinstance(write, Insert):
        await coll.insert_one(dict(write.document), session=session)
        return 1
    if isinstance(write, Delete):
        return int((await coll.delete_one(write.filter, session=session)).deleted_count)
    return _touched(
        await coll.update_one(write.filter, write.update, upsert=write.upsert, session=session)
    )
