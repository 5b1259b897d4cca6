"""`apsara user ...` as an operator runs it."""

from __future__ import annotations

import json

PASSWORD = "correct horse battery staple"


def _ok(result) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_create_list_show_plan_role_unlock_audit_delete(cli) -> None:
    created = json.loads(
        _ok(
            cli(
                "user",
                "create",
                "--email",
                "Ann@Example.com",
                "--name",
                "Ann",
                "--password",
                PASSWORD,
                "--plan",
                "premium",
                "--verified",
                "--json",
            )
        )
    )
    assert created["email"] == "ann@example.com" and created["subscriptionPlan"] == "premium"
    assert "password" not in created
    _ok(
        cli(
            "user",
            "create",
            "--email",
            "bob@example.com",
            "--name",
            "Bob Builder",
            "--password",
            PASSWORD,
            "--role",
            "admin",
        )
    )
    listed = json.loads(_ok(cli("user", "list", "--json")))
    assert [u["email"] for u in listed] == ["bob@example.com", "ann@example.com"]
    assert [
        u["email"] for u in json.loads(_ok(cli("user", "list", "--role", "admin", "--json")))
    ] == ["bob@example.com"]
    assert (
        len(json.loads(_ok(cli("user", "list", "--page-size", "1", "--page", "2", "--json")))) == 1
    )
    table = _ok(cli("user", "list", "--search", "builder"))
    assert "bob@example.com" in table and "ann@example.com" not in table and "page 1 of 1" in table
    assert "Ann" in _ok(cli("user", "show", created["_id"]))

    assert (
        json.loads(_ok(cli("user", "set-plan", "ann@example.com", "free", "--json")))[
            "subscriptionPlan"
        ]
        == "free"
    )
    assert "is now admin" in _ok(cli("user", "set-role", "ann@example.com", "admin"))
    assert "unlocked" in _ok(cli("user", "unlock", "ann@example.com"))
    actions = [
        e["action"] for e in json.loads(_ok(cli("user", "audit", "ann@example.com", "--json")))
    ]
    assert actions == ["user.unlock", "user.set_role", "user.set_plan", "user.create"]

    refused = cli("user", "delete", "ann@example.com", input_text="n\n")
    assert refused.returncode == 1 and "nothing deleted" in refused.stdout
    deleted = json.loads(_ok(cli("user", "delete", "ann@example.com", "--yes", "--json")))
    assert deleted == {
        "user": "ann@example.com",
        "conversations": 0,
        "messages": 0,
        "files": 0,
        "usage": 0,
    }
    missing = cli("user", "show", "ann@example.com")
    assert missing.returncode == 1 and "No user" in missing.stderr


def test_create_prompts_for_a_hidden_password(cli) -> None:
    result = cli(
        "user",
        "create",
        "--email",
        "p@example.com",
        "--name",
        "P",
        input_text=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.returncode == 0, result.stderr
    assert PASSWORD not in result.stdout
    login = cli("auth", "login", "--email", "p@example.com", "--password", PASSWORD)
    assert login.returncode == 1 and "not verified" in login.stderr  # created unverified


def test_bad_input_and_duplicates_are_one_line_errors(cli) -> None:
    for args, needle in (
        (["--email", "nope", "--name", "N", "--password", PASSWORD], "email"),
        (["--email", "a@example.com", "--name", "N", "--password", "123"], "password"),
        (
            ["--email", "a@example.com", "--name", "N", "--password", PASSWORD, "--role", "root"],
            "role",
        ),
    ):
        result = cli("user", "create", *args)
        assert (
            result.returncode == 1 and needle in result.stderr and "Traceback" not in result.stderr
        )
    _ok(cli("user", "create", "--email", "a@example.com", "--name", "N", "--password", PASSWORD))
    dup = cli("user", "create", "--email", "a@example.com", "--name", "N", "--password", PASSWORD)
    assert dup.returncode == 1 and "already exists" in dup.stderr
    bad_plan = cli("user", "set-plan", "a@example.com", "gold")
    assert bad_plan.returncode == 1 and "plan must be one of" in bad_plan.stderr
