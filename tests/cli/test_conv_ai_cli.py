"""`apsara conv ...` and `apsara ai ...` in a subprocess, talking to the fake Gemini server."""

from __future__ import annotations

import json
from pathlib import Path

from tests.factories import create_user
from tests.fakes.fixtures import gemini_env


def ok(result):
    assert result.returncode == 0, result.stderr
    return result


async def test_conversation_lifecycle(core, cli, fake_gemini, tmp_path: Path):
    await create_user(core, "ann@example.com", plan="premium")
    env = gemini_env(fake_gemini)
    conv = json.loads(
        ok(
            cli(
                "conv",
                "create",
                "--user",
                "ann@example.com",
                "--title",
                "Trip",
                "--system-instruction",
                "Be brief",
                "--json",
            )
        ).stdout
    )
    cid = conv["conversationId"]
    assert conv["title"] == "Trip" and conv["config"]["rest"]["systemInstruction"] == "Be brief"

    sent = ok(cli("ai", "send", "--conversation", cid, "hello world", **env))
    assert "Thinking about: hello world" in sent.stdout
    assert "[sys:Be brief] Echo: hello world (turns=1)" in sent.stdout
    assert "tokens" in sent.stdout

    reply = json.loads(
        ok(
            cli(
                "ai",
                "send",
                "--user",
                "ann@example.com",
                "--conversation",
                cid,
                "--no-thoughts",
                "--temperature",
                "0.3",
                "--json",
                "again",
                **env,
            )
        ).stdout
    )
    assert reply["success"] and reply["text"] == "[sys:Be brief] Echo: again (turns=3)"
    assert reply["thoughts"] == "" and reply["modelMessageId"]

    listed = json.loads(ok(cli("conv", "list", "--user", "ann@example.com", "--json")).stdout)
    assert [c["conversationId"] for c in listed] == [cid]
    assert (
        json.loads(ok(cli("conv", "list", "--all", "--json")).stdout)[0]["stats"]["totalMessages"]
        == 4
    )
    msgs = json.loads(ok(cli("conv", "messages", cid, "--limit", "3", "--json")).stdout)
    assert [m["messageSequence"] for m in msgs] == [2, 3, 4]
    assert "#4 model" in ok(cli("conv", "messages", cid)).stdout

    edited = json.loads(
        ok(
            cli(
                "ai",
                "edit",
                "--conversation",
                cid,
                "--message",
                msgs[1]["messageId"],
                "--json",
                "changed",
                **env,
            )
        ).stdout
    )
    assert edited["text"].endswith("Echo: changed (turns=3)") and edited["branchId"]
    regen = json.loads(ok(cli("ai", "regenerate", "--conversation", cid, "--json", **env)).stdout)
    assert regen["regeneratedMessageId"] == edited["modelMessageId"]

    ok(cli("conv", "rename", cid, "--title", "Holiday"))
    assert "Holiday" in ok(cli("conv", "show", cid)).stdout
    md = tmp_path / "out.md"
    ok(cli("conv", "export", cid, "--format", "markdown", "--output", str(md)))
    assert md.read_text().startswith("# Holiday")
    exported = json.loads(ok(cli("conv", "export", cid)).stdout)
    assert len(exported["messages"]) == 4

    deleted = json.loads(ok(cli("conv", "delete", cid, "--yes", "--json")).stdout)
    assert deleted == {"conversations": 1, "messages": 4}
    assert await core.db.messages.count_documents({}) == 0


async def test_delete_asks_and_delete_all(core, cli):
    await create_user(core, "bob@example.com")
    for title in ("A", "B"):
        ok(cli("conv", "create", "--user", "bob@example.com", "--title", title))
    cid = json.loads(ok(cli("conv", "list", "--user", "bob@example.com", "--json")).stdout)[0][
        "conversationId"
    ]
    refused = cli("conv", "delete", cid, input_text="n\n")
    assert refused.returncode != 0 and await core.db.conversations.count_documents({}) == 2
    out = json.loads(
        ok(cli("conv", "delete-all", "--user", "bob@example.com", "--yes", "--json")).stdout
    )
    assert out == {"conversations": 2, "messages": 0}


async def test_errors_are_one_clean_line(core, cli, fake_gemini):
    await create_user(core, "cy@example.com", plan="premium")
    env = gemini_env(fake_gemini)
    cid = json.loads(
        ok(cli("conv", "create", "--user", "cy@example.com", "--title", "T", "--json")).stdout
    )["conversationId"]
    cases = [
        (("ai", "send", "--conversation", cid, "   "), "text must not be empty"),
        (("ai", "send", "--conversation", cid, "--model", "gpt-4", "hi"), "Unknown model"),
        (("ai", "send", "--conversation", cid, "--temperature", "3", "hi"), "config.temperature"),
        (("ai", "send", "--conversation", cid, "--file", "file_1", "hi"), "No file 'file_1'"),
        (
            ("ai", "send", "--conversation", cid, "--file", "ftp://x/y", "hi"),
            "gs:// or an https://",
        ),
        (("ai", "send", "--conversation", "conv_nope", "hi"), "No conversation"),
        (("ai", "regenerate", "--conversation", cid), "nothing to regenerate"),
        (("conv", "show", "conv_nope"), "No conversation"),
        (("conv", "create", "--title", "x"), "--user"),
    ]
    for args, message in cases:
        result = cli(*args, **env)
        assert result.returncode == 1 and message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    no_key = cli("ai", "send", "--conversation", cid, "hi")
    assert no_key.returncode == 1 and "GOOGLE_AI_API_KEY" in no_key.stderr
    fake_gemini.script("400")
    bad = cli("ai", "send", "--conversation", cid, "hi", **env)
    assert bad.returncode == 1 and "rejected" in bad.stderr
    assert await core.db.messages.count_documents({"role": "model"}) == 0


async def test_embed(core, cli, fake_gemini):
    await create_user(core, "dee@example.com")
    env = gemini_env(fake_gemini)
    out = json.loads(
        ok(
            cli(
                "ai",
                "embed",
                "--user",
                "dee@example.com",
                "--dimensions",
                "8",
                "--json",
                "alpha",
                "beta",
                **env,
            )
        ).stdout
    )
    assert out["model"] == "gemini-embedding-001" and [len(v) for v in out["embeddings"]] == [8, 8]
    text = ok(cli("ai", "embed", "--user", "dee@example.com", "gamma", **env)).stdout
    assert "'gamma'" in text and "dims" in text


async def test_an_interrupted_reply_is_shown_and_printed_with_json(core, cli, fake_gemini):
    await create_user(core, "gil@example.com", plan="premium")
    env = gemini_env(fake_gemini)
    cid = json.loads(
        ok(cli("conv", "create", "--user", "gil@example.com", "--title", "T", "--json")).stdout
    )["conversationId"]
    fake_gemini.script("cut:2", "cut:2")
    live = cli("ai", "send", "--conversation", cid, "--no-thoughts", "one two three four", **env)
    assert live.returncode == 1 and "Echo: one" in live.stdout  # the partial text was shown
    assert "partial reply is kept" in live.stderr and "Traceback" not in live.stderr
    result = cli("ai", "send", "--conversation", cid, "--json", "five six seven eight", **env)
    assert result.returncode == 1 and "error:" in result.stderr
    partial = json.loads(result.stdout)  # what was charged is printed, though the call failed
    model = await core.db.messages.find_one({"messageId": partial["modelMessageId"]})
    assert partial["status"] == "interrupted" == model["metadata"]["status"]
    assert partial["text"] == model["content"]["text"] != "" and partial["success"] is False
