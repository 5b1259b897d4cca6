"""The one way to change several documents together: `run_in_transaction(db, work)`.

Every multi-document change of the core goes through it, so every transaction has the same
session settings and the same retry rule.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

T = TypeVar("T")


async def run_in_transaction(
    db: AsyncDatabase, work: Callable[[AsyncClientSession], Awaitable[T]]
) -> T:
    """Run `work(session)` in one transaction and return what it returns.

    pymongo's `with_transaction` runs `work` again on a transient error (a write conflict, a
    lost primary) and retries an unknown commit result, for up to 120 s; any other error
    aborts the transaction and is raised. `work` must therefore only write through `session`
    and be safe to run twice.

    The session is not causally consistent: every read goes to the primary anyway, and a causal
    session adds readConcern.afterClusterTime to a retried transaction's first command, which
    the embedded server refuses on bulkWrite (error 40415).
    """
    async with db.client.start_session(causal_consistency=False) as session:
        return await session.with_transaction(work)
