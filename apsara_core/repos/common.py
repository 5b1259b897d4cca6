"""Query shapes shared by the repos."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection


async def update_then_get(
    coll: AsyncCollection,
    query: dict[str, Any],
    change: dict[str, Any],
    *,
    key: dict[str, Any] | None = None,
    projection: dict[str, Any] | None = None,
    session: Any = None,
) -> dict[str, Any] | None:
    """Apply `change` to the document matching `query` and return it afterwards (None: no match).

    Used instead of find_one_and_update, which the embedded server answers by scanning the whole
    collection (25 ms at 3,000 documents) while update_one and find_one use the index. `key`
    finds the document again (default: its `_id`, else `query`). The update
    itself is atomic; inside a transaction the read sees exactly this update, outside one it may
    also see a later concurrent update, which callers here tolerate (counters only grow).
    """
    result = await coll.update_one(query, change, session=session)
    if result.matched_count == 0:
        return None
    key = key or ({"_id": query["_id"]} if "_id" in query else query)
    return await coll.find_one(key, projection, session=session)


FIRST_SPAN = timedelta(hours=1)
FLOOR = datetime(2000, 1, 1, tzinfo=UTC)


async def newest_first(
    coll: AsyncCollection,
    query: dict[str, Any],
    field: str,
    *,
    now: datetime,
    skip: int,
    limit: int,
    projection: dict[str, Any] | None = None,
    tie: str = "_id",
) -> list[dict[str, Any]]:
    """Documents matching `query`, newest `field` first (ties by `_id`), `skip` then `limit`.

    The embedded server never uses an index to sort, and does not stop an index scan at a
    limit: `find().sort().limit()` reads every match. So the page is read as time windows
    going back from `now` — `[now - 1 h, ∞)`, then spans four times longer each — each a
    bounded range on the index whose leading fields are `query`'s equalities followed by
    `field`, until `skip + limit` documents are found (the last window is open below, so
    nothing older is missed). Only the found documents are sorted. The cost follows the page
    and the density of recent documents, not the collection's size.
    """
    wanted, found = skip + limit, list[dict[str, Any]]()
    high: datetime | None = None
    low, span = now - FIRST_SPAN, FIRST_SPAN
    while len(found) < wanted:
        bound: dict[str, Any] = {} if low < FLOOR else {"$gte": low}
        if high is not None:
            bound["$lt"] = high
        window = {**query, field: bound} if bound else {**query, field: {"$exists": True}}
        found += await coll.find(window, projection).to_list(None)
        if low < FLOOR:
            break
        span *= 4
        high, low = low, low - span
    found.sort(key=lambda d: (sortable_time(d.get(field)), str(d.get(tie))), reverse=True)
    return found[skip:wanted]


def sortable_time(value: Any) -> datetime:
    """A datetime that compares with or without a zone (the driver returns naive UTC by
    default); FLOOR for a missing one."""
    if not isinstance(value, datetime):
        return FLOOR
    return value if value.tzinfo else value.replace(tzinfo=UTC)
