"""Login lockout: at most 5 password checks per address and lock period whatever the
concurrency (one process or several), one answer while locked, unknown addresses alike,
the owner told by mail, admins can unlock."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from apsara_core.core import Core
from apsara_core.errors import AccountLockedError, AuthenticationError
from apsara_core.models import Principal
from apsara_core.repos import login_attempts
from apsara_core.services.auth_tokens import Session
from apsara_core.services.sessions import OPERATOR
from tests.conftest import TEST_SECRET, opened_core
from tests.factories import STRONG_PASSWORD, registered_user

EMAIL = "reg@example.com"


def _now() -> datetime:
    return datetime.now(UTC)


async def _answer(core: Core, email: str, password: str) -> tuple[int, dict]:
    """(status, body) of one login attempt that is expected to fail."""
    with pytest.raises(AuthenticationError) as exc:
        await core.auth.login(email=email, password=password)
    return exc.value.http_status, exc.value.to_dict()


async def _slots_spent(core: Core, email: str) -> None:
    """Wait until the 5 slots of `email` are taken (checks in flight or done) or it locked."""
    for _ in range(500):
        doc = await core.db.login_attempts.find_one({"_id": email})
        if doc and (doc["count"] >= 5 or doc["lockedUntil"] > _now()):
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"the slots of {email} were never spent")


async def _is_locked(core: Core, email: str) -> bool:
    doc = await core.db.login_attempts.find_one({"_id": email})
    return doc is not None and doc["lockedUntil"] > _now()


async def test_fifty_parallel_wrong_passwords_and_the_right_one_check_five_and_lock(
    core: Core,
) -> None:
    await registered_user(core)
    hasher = core.passwords.hasher
    before = hasher.checks
    wrong = [
        asyncio.create_task(core.auth.login(email=EMAIL, password=f"wrong-guess-{i}"))
        for i in range(50)
    ]
    await _slots_spent(core, EMAIL)  # the right password arrives while the burst is going on
    right = asyncio.create_task(core.auth.login(email=EMAIL, password=STRONG_PASSWORD))
    results = await asyncio.gather(*wrong, right, return_exceptions=True)
    assert not any(isinstance(r, Session) for r in results)  # no token at all
    assert all(isinstance(r, AuthenticationError) for r in results)
    # At most 5 checks per lock; on a loaded machine a slot holder may reach its check after
    # the lock fell, and then gets the locked answer unchecked (4 were seen in CI-like runs).
    checks = hasher.checks - before
    assert 1 <= checks <= 5
    assert isinstance(results[-1], AccountLockedError)
    assert sum(isinstance(r, AccountLockedError) for r in results) >= 46
    assert await _is_locked(core, EMAIL)
    user = await core.db.users.find_one({"email": EMAIL})
    assert user["lockedUntil"] > _now() and user["failedLoginAttempts"] == checks
    assert (await _answer(core, EMAIL, STRONG_PASSWORD))[0] == 423  # still locked afterwards
    assert hasher.checks - before == checks


WORKER = """
import asyncio, json, sys
from apsara_core.config import Settings
from apsara_core.core import open_core
from apsara_core.errors import AccountLockedError

async def main(uri, data_dir, email, right):
    core = await open_core(Settings(_env_file=None, mongodb_uri=uri, data_dir=data_dir,
                                    jwt_secret=sys.argv[5], bcrypt_rounds=4))
    try:
        await core.passwords.hasher.dummy_check("warm up")  # the dummy hash is made once
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        wrong = [asyncio.create_task(core.auth.login(email=email, password=f"wrong-{i}"))
                 for i in range(25)]
        await asyncio.to_thread(sys.stdin.readline)  # the parent saw the slots spent
        results = await asyncio.gather(*wrong, core.auth.login(email=email, password=right),
                                       return_exceptions=True)
    finally:
        await core.close()
    print(json.dumps({"checks": core.passwords.hasher.checks,
                      "tokens": sum(not isinstance(r, Exception) for r in results),
                      "locked": sum(isinstance(r, AccountLockedError) for r in results)}))

asyncio.run(main(*sys.argv[1:5]))
"""


async def test_two_processes_share_the_five_checks(
    core: Core, mongo_uri: str, tmp_path: Path
) -> None:
    await registered_user(core)
    script = tmp_path / "burst.py"
    script.write_text(WORKER)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(script),
                mongo_uri,
                str(core.settings.data_dir),
                EMAIL,
                STRONG_PASSWORD,
                TEST_SECRET,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for proc in procs:
            assert (await asyncio.to_thread(proc.stdout.readline)).strip() == "ready"  # type: ignore[union-attr]
        for proc in procs:  # both bursts start together
            proc.stdin.write("go\n")  # type: ignore[union-attr]
            proc.stdin.flush()  # type: ignore[union-attr]
        await _slots_spent(core, EMAIL)
        outs = []
        for proc in procs:
            out, err = await asyncio.to_thread(proc.communicate, "right\n", 120)
            assert proc.returncode == 0, err
            outs.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    assert sum(o["checks"] for o in outs) == 5, outs
    assert sum(o["tokens"] for o in outs) == 0, outs
    assert sum(o["locked"] for o in outs) >= 52 - 5, outs
    assert await _is_locked(core, EMAIL)
    assert (await _answer(core, EMAIL, STRONG_PASSWORD))[0] == 423


async def test_while_locked_every_password_gets_one_answer_and_none_is_checked(core: Core) -> None:
    await registered_user(core)
    first = [await _answer(core, EMAIL, f"wrong password {i}") for i in range(5)]
    assert all(a == first[0] for a in first) and first[0][0] == 401
    hasher = core.passwords.hasher
    checks, dummies = hasher.checks, hasher.dummy_checks
    locked = [
        await _answer(core, EMAIL, pw)
        for pw in ("another wrong one", STRONG_PASSWORD, "yet another guess", STRONG_PASSWORD)
    ]
    assert all(a == locked[0] for a in locked)
    status, body = locked[0]
    assert status == 423 and body["code"] == "ACCOUNT_LOCKED"
    assert (hasher.checks, hasher.dummy_checks) == (checks, dummies + 4)  # same work, no compare


async def test_an_unknown_address_locks_exactly_like_a_real_one(core: Core) -> None:
    await registered_user(core)
    real = [await _answer(core, EMAIL, "wrong password x") for _ in range(7)]
    ghost = [await _answer(core, "ghost@example.com", "wrong password x") for _ in range(7)]
    assert real == ghost
    assert [status for status, _ in real] == [401] * 5 + [423] * 2
    assert await _is_locked(core, "ghost@example.com")
    assert await core.db.users.count_documents({"email": "ghost@example.com"}) == 0


async def test_the_owner_is_mailed_once_when_the_account_locks(core: Core) -> None:
    await registered_user(core)
    for _ in range(7):
        await _answer(core, EMAIL, "wrong password z")
    for _ in range(6):
        await _answer(core, "ghost@example.com", "wrong password z")
    await core.settle()
    mails = [
        m
        for m in await core.mail.outbox(actor=OPERATOR, to=EMAIL, limit=10)
        if "locked" in m["subject"]
    ]
    assert len(mails) == 1
    body = mails[0]["body"]
    assert "apsara user unlock reg@example.com" in body and " UTC" in body
    assert await core.mail.outbox(actor=OPERATOR, to="ghost@example.com") == []


async def test_a_failing_smtp_server_does_not_change_the_answer(settings) -> None:
    from apsara_core.db.embedded import free_port

    dead = settings.model_copy(update={"email_smtp_url": f"smtp://127.0.0.1:{free_port()}"})
    async with opened_core(dead) as core:
        from tests.factories import create_user

        stored = await core.passwords.hash(STRONG_PASSWORD)
        await create_user(core, EMAIL, **stored.fields())
        answers = [await _answer(core, EMAIL, "wrong password q") for _ in range(6)]
        assert [status for status, _ in answers] == [401] * 5 + [423]
        await core.settle()  # the mail failed in the background, logged


async def test_four_failures_then_success_resets_and_five_lock_for_fifteen_minutes(
    core: Core,
) -> None:
    user = await registered_user(core)
    for _ in range(4):
        await _answer(core, EMAIL, "wrong password x")
    session = await core.auth.login(email=EMAIL, password=STRONG_PASSWORD)
    assert session.token  # 4 failures do not lock, and success resets
    for _ in range(5):
        await _answer(core, EMAIL, "wrong password x")
    doc = await core.db.login_attempts.find_one({"_id": EMAIL})
    minutes = (doc["lockedUntil"] - _now()).total_seconds() / 60
    assert 14.5 < minutes <= 15
    stored = await core.db.users.find_one({"_id": user["_id"]})
    assert stored["lockedUntil"] == doc["lockedUntil"]
    with pytest.raises(AccountLockedError):  # an existing token stops working too
        await core.auth.verify_token(session.token)
    unlocked = await core.users.unlock(actor=Principal.operator(), user=EMAIL)
    assert unlocked["lockedUntil"] is None and unlocked["failedLoginAttempts"] == 0
    assert await core.db.login_attempts.find_one({"_id": EMAIL}) is None
    assert (await core.auth.login(email=EMAIL, password=STRONG_PASSWORD)).token


async def test_an_expired_lock_starts_counting_afresh(core: Core) -> None:
    await registered_user(core)
    for _ in range(5):
        await _answer(core, EMAIL, "wrong password y")
    past = _now() - timedelta(minutes=1)
    await core.db.login_attempts.update_one({"_id": EMAIL}, {"$set": {"lockedUntil": past}})
    await core.db.users.update_one({"email": EMAIL}, {"$set": {"lockedUntil": past}})
    assert (await _answer(core, EMAIL, "wrong password y"))[0] == 401
    assert (await core.db.login_attempts.find_one({"_id": EMAIL}))["count"] == 1
    assert (await core.auth.login(email=EMAIL, password=STRONG_PASSWORD)).token


async def test_a_right_password_checked_while_the_address_locked_gets_no_session(
    core: Core,
) -> None:
    db, now = core.db, _now()
    assert all([await login_attempts.take_slot(db, EMAIL, limit=5, now=now) for _ in range(5)])
    assert not await login_attempts.take_slot(db, EMAIL, limit=5, now=now)
    assert await login_attempts.lock(db, EMAIL, limit=5, now=now, until=now + timedelta(minutes=15))
    assert not await login_attempts.lock(
        db, EMAIL, limit=5, now=now, until=now + timedelta(hours=1)
    )
    assert not await login_attempts.succeed(db, EMAIL, now=now)  # the one in flight loses
    assert not await login_attempts.take_slot(db, EMAIL, limit=5, now=now)
    later = now + timedelta(minutes=16)
    assert await login_attempts.take_slot(db, EMAIL, limit=5, now=later)
    assert await login_attempts.succeed(db, EMAIL, now=later)
    assert await db.login_attempts.find_one({"_id": EMAIL}) is None


async def test_a_locked_account_gets_no_reset_token(core: Core) -> None:
    from tests.factories import latest_code, let_codes_be_resent

    await registered_user(core)
    await let_codes_be_resent(core)
    await core.auth.forgot_password(email=EMAIL)
    code = await latest_code(core, EMAIL)
    for _ in range(5):
        await _answer(core, EMAIL, "wrong password r")
    with pytest.raises(AccountLockedError):
        await core.auth.verify_reset_otp(email=EMAIL, otp=code)


async def test_the_lock_lifts_fifteen_minutes_later_by_the_core_clock(core: Core) -> None:
    core.clock.set(core.clock.now())
    await registered_user(core)
    for _ in range(5):
        await _answer(core, EMAIL, "wrong password z")
    core.clock.advance(timedelta(minutes=14, seconds=59))
    assert (await _answer(core, EMAIL, STRONG_PASSWORD))[0] == 423
    core.clock.advance(timedelta(seconds=2))
    assert (await core.auth.login(email=EMAIL, password=STRONG_PASSWORD)).token
