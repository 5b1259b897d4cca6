"""`apsara plan group PLAN GROUP --model M... --daily N|--total N` and `--remove`, as scripts
run them: --json output, the stored plan, clear errors naming the field."""

from __future__ import annotations

import json

from apsara_core.core import Core

FLASH, PRO = "gemini-2.5-flash", "gemini-2.5-pro"


async def test_plan_group_sets_lists_and_removes(core: Core, cli) -> None:
    out = cli(
        "plan", "group", "free", "chat", "--model", FLASH, "--model", PRO, "--daily", "9", "--json"
    )
    assert out.returncode == 0, out.stderr
    plan = json.loads(out.stdout)
    assert plan["groups"] == {"chat": {"models": [FLASH, PRO], "daily": 9, "total": None}}
    assert FLASH not in plan["models"] and PRO not in plan["models"]
    stored = await core.db.plans.find_one({"name": "free"})
    assert stored["groups"]["chat"]["daily"] == 9
    listed = json.loads(cli("plan", "list", "--json").stdout)
    assert listed[1]["groups"]["chat"]["models"] == [FLASH, PRO]
    table = cli("plan", "list")
    assert "group chat" in table.stdout
    assert "9/day shared" in table.stdout
    text = cli("plan", "group", "guest", "trial", "--model", FLASH, "--total", "4")
    assert text.returncode == 0, text.stderr
    assert "group trial" in text.stdout and "now 4 total" in text.stdout
    gone = cli("plan", "group", "free", "chat", "--remove", "--json")
    assert gone.returncode == 0, gone.stderr
    assert json.loads(gone.stdout)["groups"] == {}
    assert (
        await core.db.audit.count_documents({"action": {"$regex": "^plan\\.(set|remove)_group"}})
        == 3
    )


async def test_plan_group_bad_input_names_the_field(core: Core, cli) -> None:
    assert cli("plan", "group", "free", "chat", "--model", FLASH, "--daily", "3").returncode == 0
    cases = [
        (["free", "g", "--model", "gpt-4", "--daily", "1"], "Unknown model 'gpt-4'"),
        (["free", "g", "--model", FLASH, "--daily", "1"], "already in group 'chat'"),
        (["free", "g", "--model", PRO, "--daily", "1", "--total", "2"], "exactly one of --daily"),
        (["free", "g", "--model", PRO, "--daily", "-1"], "daily must be a whole number"),
        (["free", "g", "--daily", "1"], "at least one --model"),
        (["free", "a.b", "--model", PRO, "--daily", "1"], "A group name is"),
        (["gold", "g", "--model", PRO, "--daily", "1"], "Unknown plan 'gold'"),
        (["free", "nope", "--remove"], "has no group 'nope'"),
    ]
    for args, message in cases:
        out = cli("plan", "group", *args)
        assert out.returncode == 1 and message in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr
    both = cli("plan", "group", "free", "chat", "--remove", "--daily", "1")
    assert both.returncode == 2 and "--remove takes no" in both.stderr
    assert (await core.db.plans.find_one({"name": "free"}))["groups"]["chat"]["daily"] == 3
