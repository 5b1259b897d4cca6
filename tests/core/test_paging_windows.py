"""Time-window pages (repos/common.newest_first): every document once, newest first, whatever
the density, including after a page of a denser or sparser shape taught another density."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from apsara_core.core import Core
from apsara_core.repos import common

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def _docs() -> list[dict]:
    dense = [NOW - timedelta(seconds=7 * i) for i in range(300)]  # 300 within 35 minutes
    sparse = [NOW - timedelta(days=3 * i + 1) for i in range(40)]  # one per 3 days
    ancient = [datetime(2001, 1, 1, tzinfo=UTC), datetime(1999, 5, 5, tzinfo=UTC)]
    future = [NOW + timedelta(minutes=5)]  # a clock ahead of ours
    times = dense + sparse + ancient + future
    return [
        {"_id": f"d{i:04d}", "owner": "a" if i % 3 else "b", "at": t} for i, t in enumerate(times)
    ]


async def _pages(core: Core, query: dict, limit: int) -> list[str]:
    out: list[str] = []
    skip = 0
    while True:
        page = await common.newest_first(
            core.db.windows, query, "at", now=NOW, skip=skip, limit=limit
        )
        out += [d["_id"] for d in page]
        if len(page) < limit:
            return out
        skip += limit


@pytest.mark.parametrize("limit", [30, 500])
async def test_pages_hold_every_document_once_newest_first(core: Core, limit: int) -> None:
    docs = _docs()
    await core.db.windows.insert_many(docs)
    await core.db.windows.create_index([("owner", 1), ("at", 1)])
    await core.db.windows.create_index("at")
    for query in ({}, {"owner": "b"}, {"owner": "a"}, {"owner": "nobody"}):
        common._DENSITY.clear() if limit == 30 else None  # cold and warm hints alike
        expected = [
            d["_id"]
            for d in sorted(docs, key=lambda d: (d["at"], d["_id"]), reverse=True)
            if all(d.get(k) == v for k, v in query.items())
        ]
        assert await _pages(core, query, limit) == expected, query


async def test_a_dense_hint_does_not_lose_a_sparse_listing(core: Core) -> None:
    await core.db.windows.insert_many(_docs())
    await common.newest_first(core.db.windows, {}, "at", now=NOW, skip=0, limit=50)
    old = [{"_id": f"o{i}", "at": NOW - timedelta(days=400 + i)} for i in range(3)]
    await core.db.sparse.insert_many(old)
    common._DENSITY[(core.db.name, "sparse", frozenset(), "at")] = 100.0  # far denser than it is
    page = await common.newest_first(core.db.sparse, {}, "at", now=NOW, skip=0, limit=50)
    assert [d["_id"] for d in page] == ["o0", "o1", "o2"]


async def test_a_skip_past_everything_is_an_empty_page(core: Core) -> None:
    await core.db.windows.insert_many(_docs())  # found by schemathesis: a 500 before
    for skip in (10**3, 46_667_352, 10**15):
        page = await common.newest_first(core.db.windows, {}, "at", now=NOW, skip=skip, limit=9)
        assert page == []
