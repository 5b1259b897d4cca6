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
MIN_SPAN = timedelta(seconds=1)
EMPTY_GROWTH = 8  # a window that found nothing: the next reaches 8 times further back
MAX_GROWTH = 16  # never more than 16 times further back at once
# A density seen on fewer than MIN_BASIS documents is a guess (e.g. one fresh row above a dense
# older past): the next window then reaches at most SMALL_GROWTH times further back, so a
# sparse top never sends one window deep into the dense part (measured at 100,000 users: one
# fresh account, then a 16x window read 420 accounts for a page of 25).
MIN_BASIS = 8
SMALL_GROWTH = 2
MARGIN = 1.25  # read for 25% more documents than still wanted
# The last density (documents per second back from now) seen per listing shape (database,
# collection, the query's fields, the time field): where the next page of the same shape
# starts. A hint only: every page is still read until it is complete.
_DENSITY: dict[tuple[str, str, frozenset[str], str], float] = {}


def _span_for(
    missing: int, density: float | None, covered: timedelta, left: timedelta, basis: int
) -> timedelta:
    """How far back the next window reaches: enough for `missing` documents at `density`
    (with MARGIN), between MIN_SPAN and MAX_GROWTH times what is `covered` so far
    (SMALL_GROWTH when the density rests on fewer than MIN_BASIS found documents), and past
    FLOOR (`left` away) by a second at most (that window is then open below)."""
    if density is None or density <= 0:
        seconds = (covered * (EMPTY_GROWTH - 1) or FIRST_SPAN).total_seconds()
    else:
        seconds = missing * MARGIN / density
        if covered:
            growth = MAX_GROWTH if basis >= MIN_BASIS else SMALL_GROWTH
            seconds = min(seconds, (covered * (growth - 1)).total_seconds())
    seconds = min(max(seconds, MIN_SPAN.total_seconds()), left.total_seconds() + 1)
    return timedelta(seconds=seconds)


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
    """Documents matching `query`, newest `field` first (ties by `tie`), `skip` then `limit`.

    The embedded server never uses an index to sort, and does not stop an index scan at a
    limit: `find().sort().limit()` reads every match (5,000 documents: ~0.3-0.5 s for a
    `limit(50)`). So the page is read as time windows going back from `now`, each a bounded
    range on the index whose leading fields are `query`'s equalities followed by `field`,
    until `skip + limit` documents are found (the last window is open below, so nothing older
    is missed). Each window is sized from the density seen so far, for the documents still
    missing plus a margin: the first from the density the last page of the same shape met,
    else one hour; after an empty one, eight times further back. So a page reads about its
    own size whether the recent documents are sparse or dense, in a few round trips, and
    only the found documents are sorted.
    """
    wanted, found = skip + limit, list[dict[str, Any]]()
    shape = (coll.database.name, coll.name, frozenset(query), field)
    density = _DENSITY.get(shape)
    high: datetime | None = None
    covered = timedelta(0)
    while len(found) < wanted:
        left = now - covered - FLOOR
        low = now - covered - _span_for(wanted - len(found), density, covered, left, len(found))
        bound: dict[str, Any] = {} if low < FLOOR else {"$gte": low}
        if high is not None:
            bound["$lt"] = high
        window = {**query, field: bound} if bound else {**query, field: {"$exists": True}}
        found += await coll.find(window, projection).to_list(None)
        if low < FLOOR:
            break
        high, covered = low, now - low
        density = len(found) / covered.total_seconds() if found else None
    if found and covered:
        _DENSITY[shape] = len(found) / covered.total_seconds()
    found.sort(key=lambda d: (sortable_time(d.get(field)), str(d.get(tie))), reverse=True)
    return found[skip:wanted]


def sortable_time(value: Any) -> datetime:
    """A datetime that compares with or without a zone (the driver returns naive UTC by
    default); FLOOR for a missing one."""
    if not isinstance(value, datetime):
        return FLOOR
    return value if value.tzinfo else value.replace(tzinfo=UTC)
