"""`apsara plan list|set` and `apsara stats db|user` as a user runs them."""

from __future__ import annotations

import json

from apsara_core.core import Core
from apsara_core.models import Principal
from apsara_core.session_file import StoredSession, write_session
from tests.factories import create_user, principal_of

FLASH, PRO = "gemini-2.5-flash", "gemini-2.5-pro"
PASSWORD = "correct horse battery"


async def login_as(core: Core, email: str, role: str = "user") -> dict:
    """Create a verified user with a password and store their CLI session."""
    user = await core.users.create(
        actor=Principal.operator(),
        email=email,
        full_name="Erin",
        password=PASSWORD,
        role=role,
        verified=True,
    )
    session = await core.auth.login(email=email, password=PASSWORD)
    write_session(core.settings.data_dir, StoredSession(session.token, user["_id"], email))
    return user


async def test_plan_list_json_and_table(core: Core, cli) -> None:
    out = cli("plan", "list", "--json")
    assert out.returncode == 0, out.stderr
    plans = json.loads(out.stdout)
    assert [p["name"] for p in plans] == ["guest", "free", "premium"]
    assert plans[0]["models"] == {FLASH: {"daily": None, "total": 5}}
    table = cli("plan", "list")
    assert "5 total" in table.stdout and "20/day" in table.stdout and "50/day" in table.stdout


async def test_plan_set_changes_the_limit_and_audits(core: Core, cli) -> None:
    out = cli("plan", "set", "free", "--model", PRO, "--daily", "12", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["models"][PRO] == {"daily": 12, "total": None}
    assert (await core.db.plans.find_one({"name": "free"}))["models"][PRO]["daily"] == 12
    assert await core.db.audit.count_documents({"action": "plan.set_limit"}) == 1
    text = cli("plan", "set", "guest", "--model", FLASH, "--total", "7")
    assert text.returncode == 0 and "now 7 total" in text.stdout


async def test_plan_set_bad_input_names_the_field(core: Core, cli) -> None:
    cases = [
        (["platinum", "--model", FLASH, "--daily", "1"], "Unknown plan 'platinum'"),
        (["free", "--model", "gpt-4", "--daily", "1"], "Unknown model 'gpt-4'"),
        (["free", "--model", FLASH, "--daily", "-1"], "daily must be a whole number"),
        (["free", "--model", FLASH, "--daily", "1.5"], "daily must be a whole number"),
        (["free", "--model", FLASH, "--total", "x"], "total must be a whole number"),
        (["free", "--model", FLASH], "exactly one of --daily N or --total N"),
    ]
    for args, message in cases:
        out = cli("plan", "set", *args)
        assert out.returncode == 1 and message in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr
    assert (await core.db.plans.find_one({"name": "free"}))["models"][FLASH]["daily"] == 20


async def test_plan_set_refused_for_a_logged_in_non_admin(core: Core, cli) -> None:
    await login_as(core, "erin@example.com")
    out = cli("plan", "set", "free", "--model", FLASH, "--daily", "999")
    assert out.returncode == 1 and "Only admins can change plans" in out.stderr


async def test_stats_db_json_and_tables(core: Core, cli) -> None:
    user = await create_user(core, "alice@example.com", plan="premium")
    r = await core.limits.reserve(actor=principal_of(user), model=FLASH)
    await core.limits.commit(r, prompt_tokens=5, output_tokens=6)
    out = cli("stats", "db", "--json", "--days", "3")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["users"]["byPlan"] == {"premium": 1} and data["totals"]["messages"] == 1
    assert data["mostActiveUsers"][0]["email"] == "alice@example.com"
    table = cli("stats", "db")
    assert "model popularity" in table.stdout and FLASH in table.stdout
    assert "alice@example.com" in table.stdout
    bad = cli("stats", "db", "--days", "0")
    assert bad.returncode == 1 and "days must be a whole number" in bad.stderr


async def test_stats_user_as_operator(core: Core, cli) -> None:
    await create_user(core, "bob@example.com", plan="free")
    out = cli("stats", "user", "--user", "bob@example.com", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["quota"]["dailyUsage"][PRO] == {"count": 0, "limit": 5}
    table = cli("stats", "user", "--user", "bob@example.com")
    assert "quota today" in table.stdout and "bob@example.com" in table.stdout
    missing = cli("stats", "user", "--user", "nobody@example.com")
    assert missing.returncode == 1 and "No user 'nobody@example.com'" in missing.stderr
    nobody = cli("stats", "user")
    assert nobody.returncode == 1 and "--user" in nobody.stderr


async def test_stats_user_needs_the_password_of_a_logged_in_non_admin(core: Core, cli) -> None:
    await login_as(core, "erin@example.com")
    prompted = cli("stats", "user", "--json", input_text=PASSWORD + "\n")
    assert prompted.returncode == 0, prompted.stderr
    assert json.loads(prompted.stdout)["user"]["email"] == "erin@example.com"
    flag = cli("stats", "user", "--json", "--password", PASSWORD)
    assert flag.returncode == 0
    wrong = cli("stats", "user", "--password", "not my password")
    assert wrong.returncode == 1 and "Wrong password" in wrong.stderr
    empty = cli("stats", "user", input_text="\n")
    assert empty.returncode == 1 and "password is required" in empty.stderr
    other = cli("stats", "user", "--user", "bob@example.com", "--password", PASSWORD)
    assert other.returncode == 1 and "No user" in other.stderr
    db = cli("stats", "db")
    assert db.returncode == 1 and "for admins" in db.stderr


async def test_plan_files_sets_file_limits_and_refuses_bad_sizes(core: Core, cli) -> None:
    out = cli("plan", "files", "free", "--max-files", "3", "--max-bytes", "5MB", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["files"] == {"maxFiles": 3, "maxBytes": 5_000_000}
    stored = await core.db.plans.find_one({"name": "free"})
    assert stored["files"] == {"maxFiles": 3, "maxBytes": 5_000_000}
    kept = cli("plan", "files", "free", "--max-bytes", "1GiB")
    assert kept.returncode == 0 and "3 files, 1,073,741,824 bytes" in kept.stdout
    assert "3 / 1,074 MB" in cli("plan", "list").stdout
    bad = cli("plan", "files", "free", "--max-bytes", "lots")
    assert bad.returncode == 1 and "maxBytes must be a whole number of bytes" in bad.stderr
    none = cli("plan", "files", "free")
    assert none.returncode == 1 and "Give maxFiles, maxBytes or both" in none.stderr
    assert (await core.db.plans.find_one({"name": "free"}))["files"]["maxFiles"] == 3
    assert await core.db.audit.count_documents({"action": "plan.set_file_limits"}) == 2
