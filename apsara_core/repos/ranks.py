"""The "most active users" ranking, kept at write time in `user_usage.ranks`.

The embedded server never uses an index to sort and answers a `$group` over usage_daily by
reading every document of the period, so the ranking is maintained by the write that commits
a reply (the same `user_usage` update that adds to the user's totals, as an update pipeline):

- `ranks.days`: `[{"d": "YYYY-MM-DD", "n": replies, "t": tokens}, ...]`, the user's last
  WINDOW UTC days (older entries are dropped by each write);
- `ranks.score`: `n * SCALE + t` summed over those entries, on a descending index.

A stored score is never below the user's true score for any period within the window ending
today (days only leave it), so reading `{"ranks.score": {"$gte": x}}` returns every user whose
true score is at least x: `top` reads from a threshold down in widening steps until `limit`
users are known to score at least the last bound, and ranks them by their entries in the
period. The threshold (the last read's `limit`-th score, in `tallies`) makes the next read one
window of about `limit` documents.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

WINDOW = 30  # days kept: `stats db` periods up to this read the ranking
SCALE = 2**32  # replies before tokens in the score (tokens of a window stay below it)
START = 2**52  # where a read without a threshold starts (replies below 2^20)
THRESHOLD = "ranks|"  # tallies `_id` prefix of the thresholds, per period length


def window_start(day: str) -> str:
    """The first day ("YYYY-MM-DD") of the WINDOW days ending with `day`."""
    return (date.fromisoformat(day) - timedelta(days=WINDOW - 1)).isoformat()


def _sum(field: str) -> dict[str, Any]:
    return {
        "$reduce": {
            "input": "$ranks.days",
            "initialValue": 0,
            "in": {"$add": ["$$value", f"$$this.{field}"]},
        }
    }


def commit_pipeline(
    user_id: str, inc: dict[str, int], now: datetime, day: str
) -> list[dict[str, Any]]:
    """The `user_usage` update of a committed reply: add `inc` to the totals, set
    lastActivity, and count the reply and its tokens in the ranking's day `day`."""
    tokens = int(inc.get("totalTokens", 0))
    totals: dict[str, Any] = {"userId": {"$ifNull": ["$userId", {"$literal": user_id}]}}
    totals["lastActivity"] = {"$literal": now}
    for name, value in inc.items():
        totals[f"totalUsage.{name}"] = {"$add": [{"$ifNull": [f"$totalUsage.{name}", 0]}, value]}
    kept = {
        "$filter": {
            "input": {"$ifNull": ["$ranks.days", []]},
            "cond": {"$gte": ["$$this.d", window_start(day)]},
        }
    }
    last = {"$arrayElemAt": [{"$concatArrays": [[{"d": ""}], "$_kept"]}, -1]}
    same_day = {
        "$concatArrays": [
            {"$slice": ["$_kept", {"$max": [{"$subtract": [{"$size": "$_kept"}, 1]}, 0]}]},
            [{"d": day, "n": {"$add": ["$_last.n", 1]}, "t": {"$add": ["$_last.t", tokens]}}],
        ]
    }
    new_day = {"$concatArrays": ["$_kept", [{"d": day, "n": 1, "t": tokens}]]}
    return [
        {"$set": totals},
        {"$set": {"_kept": kept}},
        {"$set": {"_last": last}},
        {"$set": {"ranks.days": {"$cond": [{"$eq": ["$_last.d", day]}, same_day, new_day]}}},
        {"$set": {"ranks.score": {"$add": [{"$multiply": [_sum("n"), SCALE]}, _sum("t")]}}},
        {"$unset": ["_kept", "_last"]},
    ]


def ranks_of(days: dict[str, tuple[int, int]]) -> dict[str, Any]:
    """The `ranks` field of per-day (replies, tokens) (seeding, migration): the days must be
    the user's last WINDOW days or fewer."""
    entries = [{"d": d, "n": n, "t": t} for d, (n, t) in sorted(days.items())]
    return {"days": entries, "score": sum(n * SCALE + t for n, t in days.values())}


def _in_period(doc: dict[str, Any], first: str) -> tuple[int, int]:
    days = [e for e in (doc.get("ranks") or {}).get("days", []) if e.get("d", "") >= first]
    return sum(int(e["n"]) for e in days), sum(int(e["t"]) for e in days)


async def top(db: AsyncDatabase, *, first: str, days: int, limit: int) -> list[dict[str, Any]]:
    """The `limit` users with the most replies (then tokens) from day `first` to today, a
    period of `days` <= WINDOW days: [{"userId", "messages", "tokens"}], best first."""
    key = f"{THRESHOLD}{days}"
    stored = await db.tallies.find_one({"_id": key}, {"t": 1})
    low = int(stored["t"]) if stored and stored.get("t", 0) >= 1 else START
    high: int | None = None
    step = max(low // 1024, 1)
    found: dict[str, tuple[int, int]] = {}
    while True:
        bound: dict[str, Any] = {"$gte": max(low, 1)}
        if high is not None:
            bound["$lt"] = high
        for doc in await db.user_usage.find({"ranks.score": bound}, {"ranks": 1}).to_list(None):
            found[str(doc["_id"])] = _in_period(doc, first)
        sure = sum(1 for n, t in found.values() if n and n * SCALE + t >= low)
        if sure >= limit or low <= 1:
            break
        high, low, step = low, max(low - step, 1), step * 2
    best = sorted((-n, -t, uid) for uid, (n, t) in found.items() if n)
    rows: list[dict[str, Any]] = [
        {"userId": uid, "messages": -n, "tokens": -t} for n, t, uid in best[:limit]
    ]
    if len(rows) == limit:  # the next read starts where this one's last user scores
        last = -best[limit - 1][0] * SCALE - best[limit - 1][1]
        await db.tallies.update_one({"_id": key}, {"$set": {"t": last}}, upsert=True)
    return rows
