"""The periodic upkeep of a long-running front end (`apsara serve`, the app, `apsara worker`).

Every SWEEP_INTERVAL_S seconds until cancelled:
- the replies whose accounting a stopped process left pending are applied
  (services/reply_accounting.py), first right at start;
- on the embedded server only, expired TTL-declared records are deleted (db/expiry.py;
  MongoDB's own TTL monitor does it there);
- on an embedded server Apsara started, the server is restarted when it is over its memory
  bound and idle (db/recycle.py).

A failed round is logged and tried again at the next interval. Several processes running it
on one database is harmless: each step is idempotent.
"""

from __future__ import annotations

import asyncio
import logging

from pymongo.asynchronous.database import AsyncDatabase

from apsara_core.db import expiry
from apsara_core.db.recycle import Recycler
from apsara_core.services import reply_accounting
from apsara_core.services.limits import LimitsService

log = logging.getLogger(__name__)


async def run(
    db: AsyncDatabase,
    limits: LimitsService,
    *,
    expire: bool,
    recycler: Recycler | None = None,
    interval: float = expiry.SWEEP_INTERVAL_S,
) -> None:
    """Run the upkeep rounds until cancelled; `expire` adds the embedded server's expiry,
    `recycler` its restart while idle."""
    while True:
        try:
            applied = await reply_accounting.sweep(db, limits)
            if applied:
                log.info("applied the accounting of %d replies left pending", applied)
        except Exception as exc:  # a database that is briefly away: try again next time
            log.warning("reply accounting sweep failed: %s", exc)
        await asyncio.sleep(interval)
        if expire:
            try:
                count = await expiry.sweep(db)
            except Exception as exc:
                log.warning("expiry sweep failed: %s", exc)
            else:
                if count:
                    log.debug("expiry sweep deleted %d documents", count)
        if recycler is not None:
            try:
                await recycler.check(db)
            except Exception as exc:
                log.warning("embedded server recycling check failed: %s", exc)
