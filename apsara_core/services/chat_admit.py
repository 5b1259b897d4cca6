"""Admitting a sent message: the quota unit, the user's message and the model call, overlapped.

Only the conversation (read by the caller) and its history window are read one after the
other. Then three things run at once:
- the reservation (one conditional update, `LimitsService.reserve`);
- the store of the user's message (`chat_store.append`): its writes travel now, its commit
  waits for the gate, opened once the unit is reserved;
- the model call (`ReplyRunner.open`), its chunks held in a buffer.

A caller this process refused the model in the last minute (`recently_refused`) waits for
the reservation before the call starts, so that a user past the quota does not make a
cancelled upstream call per attempt. A refusal (or any failure before the reply starts)
closes the model call, aborts the store so
that nothing is written, gives a reserved unit back, and is raised. No reply text is
shown before the unit is reserved (`ReplyRunner.run` starts reading only after `admit`
returns), and no reply is stored before the user's message; the reply's text streams while
that message commits.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from apsara_core.services import chat_store
from apsara_core.services.chat_stream import ReplyJob, ReplyRunner
from apsara_core.services.limits import LimitsService, Reservation


class _Abandoned(Exception):
    """The admission failed: the user's message must not be committed."""


async def admit(
    limits: LimitsService,
    replies: ReplyRunner,
    db: AsyncDatabase,
    job: ReplyJob,
    user_doc: dict[str, Any],
    window: list[dict[str, Any]] | None = None,
) -> None:
    """Reserve the unit, store `user_doc` and start the model call, all at once; on return
    `job` holds the reservation, the running store and the started call. `window` is the
    history already read (see chat_prefetch); without it, it is read here.

    Raises:
        RateLimitError / PermissionDeniedError: the plan refuses (nothing written, call closed).
        PyMongoError and the rest: reading the window or reserving failed (the same).
    """
    await limits.check_model(actor=job.actor, model=job.model)  # a plan refusal calls nothing
    conv = job.conv
    last = conv["stats"]["messageSequence"]
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    # the reservation goes to the server first: the first chunk waits for it, not for the store
    reserving = asyncio.ensure_future(limits.reserve(actor=job.actor, model=job.model))
    storing = asyncio.ensure_future(chat_store.append(db, user_doc, expected=last, gate=gate))
    try:
        if window is None:
            window = await replies.read_window(conv["conversationId"], last + 1) if last else []
        job.window = [*window, user_doc]
        if limits.recently_refused(user_id=job.actor.user_id, model=job.model):
            job.reservation = await asyncio.shield(reserving)  # likely refused: wait first
            replies.open(job)
        else:
            replies.open(job)
            job.reservation = await asyncio.shield(reserving)
    except BaseException:
        await asyncio.shield(_abandon(limits, job, reserving, storing, gate))
        raise
    gate.set_result(None)
    job.prompt_store = storing


async def _abandon(
    limits: LimitsService,
    job: ReplyJob,
    reserving: asyncio.Future[Reservation],
    storing: asyncio.Future[dict[str, Any]],
    gate: asyncio.Future[None],
) -> None:
    """Undo a failed admission: close the call, refund a taken unit, and let the store abort;
    except when the caller went away after the model call started and the unit is reserved:
    then the user's message is kept (as when a call is cancelled before any text)."""
    started = job.upstream is not None
    if job.upstream is not None:
        await job.upstream.aclose()
        job.upstream = None
    await asyncio.wait([reserving])
    reserved = not reserving.cancelled() and reserving.exception() is None
    if not gate.done():
        if started and reserved:
            gate.set_result(None)
        else:
            gate.set_exception(_Abandoned())
    await asyncio.wait([storing])
    if reserved:
        await limits.refund(reserving.result())
    with contextlib.suppress(BaseException):
        storing.result()  # its transaction aborted on the gate (or failed on its own)
    with contextlib.suppress(BaseException):
        gate.exception()  # retrieved even when the store failed before reaching it
