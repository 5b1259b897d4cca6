"""Worker: claims queued jobs (and jobs whose worker died) and runs them, with leases.

The same class runs in-process in `apsara serve` and as `apsara worker`, on any machine that
reaches the database. A job is claimed with a find + a conditional update (plugin_jobs'
repos/jobs.py); while it runs, a heartbeat every lease/3 renews its lease, so a live worker's
job is never taken over; a worker that dies leaves the lease to run out, and another worker
runs the job again from the start (what it writes is keyed by the job id, so once).

Wake-up: a change stream of inserts into `jobs` wakes idle workers at once; polling every
`poll_s` is the fallback (and finds expired leases). Cancel: a change stream of
`cancelRequested` updates cancels the running task; the heartbeat sees it too (fallback).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from apsara_core.clock import Clock
from apsara_core.repos import jobs as job_repo

log = logging.getLogger(__name__)
Runner = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
CANCELLED = {"code": "CANCELLED", "message": "Cancelled while running"}


class Worker:
    """Runs jobs `concurrency` at a time until `stop()`."""

    def __init__(
        self,
        *,
        db: AsyncDatabase,
        run_job: Runner,
        clock: Clock,
        concurrency: int = 4,
        lease_s: float = 30.0,
        poll_s: float = 1.0,
        max_attempts: int = 3,
        watch: bool = True,
        grace_s: float = 10.0,
    ) -> None:
        self._db, self._run_job, self._clock = db, run_job, clock
        self.concurrency, self.lease_s, self.poll_s = concurrency, lease_s, poll_s
        self.max_attempts, self._watch, self.grace_s = max_attempts, watch, grace_s
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._running: dict[str, asyncio.Task[None]] = {}
        self._cancelled: set[str] = set()
        self._main: asyncio.Task[None] | None = None
        self.change_streams = False  # whether the server gave us change streams
        self.completed = 0

    def start(self) -> None:
        """Run in the background of the current event loop (the in-process worker)."""
        self._main = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        """Stop claiming; running jobs get `grace_s` to finish (the rest run again elsewhere
        once their lease runs out)."""
        self._stopping.set()
        self._wake.set()
        if self._main is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._main

    async def run(self) -> None:
        """Claim and run jobs until stopped."""
        watchers = [
            asyncio.create_task(self._watch_inserts()),
            asyncio.create_task(self._watch_cancels()),
        ]
        try:
            while not self._stopping.is_set():
                if len(self._running) < self.concurrency and await self._claim_one():
                    continue
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_s)
            if self._running:  # a job still running after the grace runs again elsewhere
                await asyncio.wait(set(self._running.values()), timeout=self.grace_s)
        finally:
            for task in watchers:
                task.cancel()
            for task in self._running.values():
                task.cancel()

    async def _claim_one(self) -> bool:
        """Claim the oldest available job and start it; whether one was claimed."""
        try:
            now = self._clock.now()
            for seen in await self._candidates(now):
                if seen["status"] == "running" and seen["attempt"] >= self.max_attempts:
                    error = {
                        "code": "JOB_ABANDONED",
                        "message": f"its worker was lost {seen['attempt']} times",
                    }
                    await job_repo.give_up(self._db, seen, now, error)
                    continue
                lease = now + timedelta(seconds=self.lease_s)
                if await job_repo.claim(
                    self._db, seen, owner=self.owner, lease_until=lease, now=now
                ):
                    attempt = seen["attempt"] + 1
                    task = asyncio.create_task(self._execute(seen["_id"], attempt))
                    self._running[seen["_id"]] = task
                    return True
        except PyMongoError as exc:
            log.warning("claiming a job failed: %s", exc)
        return False

    async def _candidates(self, now: Any) -> list[dict[str, Any]]:
        """Queued jobs, oldest first; when there are none, jobs whose lease ran out."""
        return await job_repo.queued(self._db, 8) or await job_repo.expired(self._db, now, 8)

    async def _execute(self, job_id: str, attempt: int) -> None:
        beat = asyncio.create_task(self._heartbeat(job_id, attempt))
        try:
            doc = await job_repo.get(self._db, job_id)
            assert doc is not None
            doc["parameters"] = json.loads(doc["parametersJson"])
            try:
                fields = await self._run_job(doc)
            except asyncio.CancelledError:
                if job_id not in self._cancelled:
                    raise
                fields = {"status": "cancelled", "error": CANCELLED}
            except Exception as exc:  # a bug in the runner never takes the worker down
                log.exception("job %s crashed", job_id)
                fields = {
                    "status": "failed",
                    "error": {"code": "INTERNAL_ERROR", "message": str(exc)[:500]},
                }
            fields["finishedAt"] = self._clock.now()
            if await job_repo.finish(self._db, job_id, self.owner, attempt, fields):
                self.completed += 1
        except PyMongoError as exc:
            log.warning("job %s: database error %s (its lease will run out)", job_id, exc)
        finally:
            beat.cancel()
            self._running.pop(job_id, None)
            self._cancelled.discard(job_id)
            self._wake.set()

    async def _heartbeat(self, job_id: str, attempt: int) -> None:
        while True:
            await asyncio.sleep(self.lease_s / 3)
            lease = self._clock.now() + timedelta(seconds=self.lease_s)
            try:
                if await job_repo.renew(self._db, job_id, self.owner, attempt, lease):
                    continue
                doc = await job_repo.get(self._db, job_id)
            except PyMongoError as exc:
                log.warning("heartbeat of %s failed: %s", job_id, exc)
                continue
            if doc is not None and doc.get("cancelRequested") and doc.get("owner") == self.owner:
                self._cancel(job_id)
                return
            log.warning("job %s: lease lost; stopping this run", job_id)
            task = self._running.get(job_id)
            if task is not None:
                task.cancel()
            return

    def _cancel(self, job_id: str) -> None:
        task = self._running.get(job_id)
        if task is not None and job_id not in self._cancelled:
            self._cancelled.add(job_id)
            task.cancel()

    async def _watch_inserts(self) -> None:
        if not self._watch:
            return
        pipeline = [{"$match": {"operationType": "insert"}}]
        try:
            async with await self._db.jobs.watch(pipeline) as stream:
                self.change_streams = True
                async for _ in stream:
                    self._wake.set()
        except PyMongoError as exc:  # no change streams here: polling alone
            log.info("no change stream on jobs (%s); polling every %s s", exc, self.poll_s)

    async def _watch_cancels(self) -> None:
        if not self._watch:
            return
        pipeline = [
            {
                "$match": {
                    "operationType": "update",
                    "updateDescription.updatedFields.cancelRequested": True,
                }
            }
        ]
        try:
            async with await self._db.jobs.watch(pipeline) as stream:
                async for change in stream:
                    self._cancel(change["documentKey"]["_id"])
        except PyMongoError as exc:
            log.info("no change stream for cancels (%s); the heartbeat sees them", exc)
