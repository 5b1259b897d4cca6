"""The one actor rule, as a matrix: (no session, admin session, user session) x every command
group, checking what is allowed, what is refused, and where the data went.

The rule (README, "Who acts"): no session, the operator acts as admin; a session acts with
the logged-in user's rights; `--operator` returns to admin.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from apsara_core.core import Core
from apsara_core.models import Principal
from tests.fakes.fixtures import gemini_env

PASSWORD = "correct horse battery"
ADMIN, USER, OTHER = "root@example.com", "una@example.com", "otto@example.com"

ALLOWED, REFUSED = "allowed", "refused"
# command group / what is tried -> expectation per session state (none, admin, user)
MATRIX: dict[str, tuple[str, str, str]] = {
    "user list": (ALLOWED, ALLOWED, REFUSED),
    "user set-plan OTHER": (ALLOWED, ALLOWED, REFUSED),
    "plan set": (ALLOWED, ALLOWED, REFUSED),
    "stats db": (ALLOWED, ALLOWED, REFUSED),
    "stats user OTHER": (ALLOWED, ALLOWED, REFUSED),
    "db info": (ALLOWED, ALLOWED, REFUSED),
    "mail outbox --to OTHER": (ALLOWED, ALLOWED, REFUSED),
    "conv create (own)": (REFUSED, ALLOWED, ALLOWED),
    "conv create --user OTHER": (ALLOWED, ALLOWED, REFUSED),
    "conv show OTHER's": (ALLOWED, ALLOWED, REFUSED),
    "conv list --all": (ALLOWED, ALLOWED, REFUSED),
    "ai send in OTHER's": (ALLOWED, ALLOWED, REFUSED),
    "auth whoami": (REFUSED, ALLOWED, ALLOWED),
    "file upload (own)": (REFUSED, ALLOWED, ALLOWED),
    "file show OTHER's": (ALLOWED, ALLOWED, REFUSED),
    "file list --user OTHER": (ALLOWED, ALLOWED, REFUSED),
}
STATES = ("none", "admin", "user")


async def _people(core: Core) -> dict[str, dict[str, Any]]:
    op = Principal.operator()
    made = {}
    for email, role in ((ADMIN, "admin"), (USER, "user"), (OTHER, "user")):
        made[email] = await core.users.create(
            actor=op,
            email=email,
            full_name=email[:4],
            password=PASSWORD,
            role=role,
            plan="premium",
            verified=True,
        )
    return made


def _outcome(result: Any) -> str:
    return ALLOWED if result.returncode == 0 else REFUSED


@pytest.mark.parametrize("state", STATES)
async def test_who_acts_for_every_command_group(
    state: str, core: Core, cli, fake_gemini, tmp_path: Path
) -> None:
    people = await _people(core)
    other = people[OTHER]
    other_conv = await core.conversations.create(actor=Principal.of_user(other), title="Otto's")
    cid = other_conv["conversationId"]
    await core.mail.send(to=OTHER, subject="for otto", body="code 123456")
    note = tmp_path / "note.txt"
    note.write_text("a note\n")
    [otto_file] = await core.files.upload_paths(actor=Principal.of_user(other), paths=[note])
    if state != "none":
        login = cli(
            "auth", "login", "--email", ADMIN if state == "admin" else USER, "--password", PASSWORD
        )
        assert login.returncode == 0, login.stderr
    me = {"none": None, "admin": people[ADMIN], "user": people[USER]}[state]
    env = gemini_env(fake_gemini)

    runs = {
        "user list": cli("user", "list", "--json"),
        "user set-plan OTHER": cli("user", "set-plan", OTHER, "free", "--json"),
        "plan set": cli("plan", "set", "free", "--model", "gemini-2.5-flash", "--daily", "21"),
        "stats db": cli("stats", "db", "--json"),
        "stats user OTHER": cli("stats", "user", "--user", OTHER, "--password", PASSWORD, "--json"),
        "db info": cli("db", "info", "--json"),
        "mail outbox --to OTHER": cli("mail", "outbox", "--to", OTHER, "--json"),
        "conv create (own)": cli("conv", "create", "--title", "Mine", "--json"),
        "conv create --user OTHER": cli(
            "conv", "create", "--user", OTHER, "--title", "For Otto", "--json"
        ),
        "conv show OTHER's": cli("conv", "show", cid, "--json"),
        "conv list --all": cli("conv", "list", "--all", "--json"),
        "ai send in OTHER's": cli("ai", "send", "--conversation", cid, "--json", "hello", **env),
        "auth whoami": cli("auth", "whoami", "--json"),
        "file upload (own)": cli("file", "upload", str(note), "--json"),
        "file show OTHER's": cli("file", "show", otto_file["fileId"], "--json"),
        "file list --user OTHER": cli("file", "list", "--user", OTHER, "--json"),
    }
    column = STATES.index(state)
    got = {name: _outcome(result) for name, result in runs.items()}
    want = {name: expected[column] for name, expected in MATRIX.items()}
    assert got == want, {n: runs[n].stderr for n in got if got[n] != want[n]}

    for name, result in runs.items():  # a refusal is one clear line, never a traceback
        if result.returncode:
            assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr, name

    # where the data went
    plan = (await core.db.users.find_one({"_id": other["_id"]}))["subscriptionPlan"]
    assert plan == ("premium" if state == "user" else "free")
    mine = await core.db.conversations.find_one({"title": "Mine"})
    assert (mine or {}).get("userId") == (me or {}).get("_id")
    for_otto = await core.db.conversations.find_one({"title": "For Otto"})
    assert (for_otto is not None) == (state != "user")
    if for_otto is not None:
        assert for_otto["userId"] == other["_id"]
    sent = await core.db.messages.find({"conversationId": cid}).to_list()
    if state == "user":
        assert sent == []  # nothing stored in another user's conversation
    else:  # the operator or an admin speaks as the owner: Otto's messages, Otto's quota
        assert {m["userId"] for m in sent} == {other["_id"]} and len(sent) == 2
        usage = await core.limits.quota(actor=Principal.of_user(other))
        assert usage["dailyUsage"]["gemini-2.5-flash"]["count"] == 1
    uploaded = await core.db.files.find({"userId": {"$ne": other["_id"]}}).to_list()
    assert [f["userId"] for f in uploaded] == ([me["_id"]] if me else [])
    if state == "user":  # the user reads only mail to their own address
        own = cli("mail", "outbox", "--json")
        assert own.returncode == 0 and all(m["to"] == USER for m in json.loads(own.stdout))
        whoami = json.loads(runs["auth whoami"].stdout)
        assert whoami["email"] == USER


async def test_operator_flag_returns_to_admin_while_a_user_is_logged_in(core: Core, cli) -> None:
    await _people(core)
    assert cli("auth", "login", "--email", USER, "--password", PASSWORD).returncode == 0
    refused = cli("user", "list", "--json")
    assert refused.returncode == 1 and "Only admins" in refused.stderr
    listed = cli("--operator", "user", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert {u["email"] for u in json.loads(listed.stdout)} == {ADMIN, USER, OTHER}
    # logging out returns to admin too
    assert cli("auth", "logout").returncode == 0
    assert cli("user", "list", "--json").returncode == 0


async def test_an_ended_session_is_an_error_not_a_silent_admin(core: Core, cli) -> None:
    people = await _people(core)
    assert cli("auth", "login", "--email", USER, "--password", PASSWORD).returncode == 0
    await core.auth.logout_all(actor=Principal.of_user(people[USER]))
    result = cli("user", "list", "--json")
    assert result.returncode == 1
    assert "session was ended" in result.stderr and "--operator" not in result.stdout
    assert "log out" in result.stderr.lower()
