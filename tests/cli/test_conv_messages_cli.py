"""`apsara conv delete-message | search | versions | switch-version`, against the fake Gemini."""

from __future__ import annotations

import json

from tests.factories import create_user
from tests.fakes.fixtures import gemini_env


def ok(result):
    assert result.returncode == 0, result.stderr + result.stdout
    return result


async def a_conversation(core, cli, fake_gemini, *texts):
    await create_user(core, "ann@example.com", plan="premium")
    cid = json.loads(
        ok(cli("conv", "create", "--user", "ann@example.com", "--title", "T", "--json")).stdout
    )["conversationId"]
    for text in texts:
        ok(cli("ai", "send", "--conversation", cid, text, **gemini_env(fake_gemini)))
    msgs = json.loads(ok(cli("conv", "messages", cid, "--json")).stdout)
    return cid, msgs


async def test_delete_message_asks_names_the_reply_and_deletes(core, cli, fake_gemini):
    cid, msgs = await a_conversation(core, cli, fake_gemini, "one", "two")
    refused = cli("conv", "delete-message", cid, msgs[0]["messageId"], input_text="n\n")
    assert refused.returncode != 0 and await core.db.messages.count_documents({}) == 4
    alone = cli("conv", "delete-message", cid, msgs[2]["messageId"], "--yes")
    assert alone.returncode == 1 and "answered by reply #4" in alone.stderr + alone.stdout
    out = json.loads(
        ok(
            cli(
                "conv",
                "delete-message",
                cid,
                msgs[2]["messageId"],
                "--with-reply",
                "--yes",
                "--json",
            )
        ).stdout
    )
    assert [d["messageSequence"] for d in out["deleted"]] == [3, 4] and out["messages"] == 2
    human = ok(cli("conv", "delete-message", cid, msgs[1]["messageId"], "--yes"))
    assert "deleted #2 model; 1 messages left" in human.stdout
    shown = json.loads(ok(cli("conv", "show", cid, "--json")).stdout)
    assert shown["stats"]["totalMessages"] == 1


async def test_search_prints_numbers_and_snippets(core, cli, fake_gemini):
    cid, _ = await a_conversation(core, cli, fake_gemini, "pack the Tent", "food")
    out = ok(cli("conv", "search", cid, "tent"))
    assert "#1 user" in out.stdout and "#2 model" in out.stdout and "pack the Tent" in out.stdout
    page = json.loads(ok(cli("conv", "search", cid, "tent", "--limit", "1", "--json")).stdout)
    assert page["hasMore"] and [i["messageSequence"] for i in page["items"]] == [2]  # newest
    assert "no message contains" in ok(cli("conv", "search", cid, "zzz")).stdout
    bad = cli("conv", "search", cid, "tent", "--limit", "0")
    assert bad.returncode == 1 and "limit" in bad.stderr + bad.stdout


async def test_versions_and_switch_version(core, cli, fake_gemini):
    cid, msgs = await a_conversation(core, cli, fake_gemini, "one", "two")
    env = gemini_env(fake_gemini)
    ok(cli("ai", "regenerate", "--conversation", cid, "--message", msgs[1]["messageId"], **env))
    (fork,) = json.loads(ok(cli("conv", "versions", cid, "--json")).stdout)
    assert fork["current"] == 2 and len(fork["versions"]) == 2
    listing = ok(cli("conv", "versions", cid)).stdout
    assert "version 2/2" in listing and "3 msg" in listing
    out = ok(cli("conv", "switch-version", cid, fork["messageId"], "1"))
    assert "now on version 1/2" in out.stdout and "3 messages brought back" in out.stdout
    after = json.loads(ok(cli("conv", "messages", cid, "--json")).stdout)
    assert [m["messageId"] for m in after] == [m["messageId"] for m in msgs]
    again = ok(cli("conv", "switch-version", cid, msgs[1]["messageId"], "1"))
    assert "already current" in again.stdout
