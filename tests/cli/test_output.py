"""One JSON encoding everywhere: `--json`, `conv export --format json` and HTTP agree on dates."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from apsara_core.jsonable import dumps, jsonable
from tests.factories import create_user


async def test_show_and_export_print_the_same_dates(core, cli) -> None:
    await create_user(core, "ann@example.com")
    made = cli("conv", "create", "--user", "ann@example.com", "--title", "Trip", "--json")
    assert made.returncode == 0, made.stderr
    cid = json.loads(made.stdout)["conversationId"]
    shown = json.loads(cli("conv", "show", cid, "--json").stdout)
    exported = json.loads(cli("conv", "export", cid).stdout)["conversation"]
    assert shown["createdAt"] == exported["createdAt"]
    assert shown["createdAt"].endswith("Z")


def test_the_encoding() -> None:
    when = datetime(2026, 12, 1, 20, 52, 45, 123000, tzinfo=UTC)
    assert jsonable({"at": when, 1: [when]}) == {
        "at": "2026-12-01T20:52:45.123000Z",
        "1": ["2026-12-01T20:52:45.123000Z"],
    }
    assert json.loads(dumps({"name": "Zoë"})) == {"name": "Zoë"} and "Zoë" in dumps("Zoë")
