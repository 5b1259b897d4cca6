"""Personal API keys: created from the CLI (the `--json` contract) and over HTTP, accepted
wherever a token is, only a hash stored, owner's rights and plan, read-only scope, expiry,
revocation, refused when the owner is locked or deleted."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import httpx

from apsara_core.core import Core
from tests.http.test_http_statuses import signed_in

PASSWORD = "correct horse battery staple"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_cli_contract_and_the_key_over_http(cli, http: httpx.AsyncClient, core) -> None:
    made = cli(
        "user",
        "create",
        "--email",
        "kim@example.com",
        "--name",
        "Kim",
        "--password",
        PASSWORD,
        "--plan",
        "premium",
        "--verified",
    )
    assert made.returncode == 0, made.stderr
    out = cli(
        "key",
        "create",
        "--name",
        "script",
        "--user",
        "kim@example.com",
        "--expires-in",
        "30d",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    created = json.loads(out.stdout)
    assert set(created) == {"key", "id"} and created["key"].startswith("apsk_")
    stored = await core.db.api_keys.find_one({"keyId": created["id"]})
    assert stored["hash"] == hashlib.sha256(created["key"].encode()).hexdigest()
    assert created["key"] not in json.dumps(stored, default=str)  # only the hash is kept
    me = await http.get("/api/users/me", headers=bearer(created["key"]))
    assert me.status_code == 200 and me.json()["user"]["subscriptionPlan"] == "premium"
    listed = json.loads(cli("key", "list", "--user", "kim@example.com", "--json").stdout)
    assert [k["id"] for k in listed] == [created["id"]] and listed[0]["lastUsedAt"]
    assert "key" not in listed[0] and "hash" not in listed[0]
    assert cli("key", "revoke", created["id"], "--user", "kim@example.com").returncode == 0
    gone = await http.get("/api/users/me", headers=bearer(created["key"]))
    assert gone.status_code == 401 and gone.json()["code"] == "API_KEY_INVALID"


async def test_keys_over_http_scope_expiry_lock_and_deletion(api, chat_core: Core) -> None:
    auth, _ = await signed_in(chat_core, "kit@example.com")
    full = (await api.post("/api/keys", headers=auth, json={"name": "app"})).json()
    ro = await api.post("/api/keys", headers=auth, json={"name": "ro", "readOnly": True})
    assert ro.status_code == 201
    reader = bearer(ro.json()["key"])
    made = await api.post("/api/conversations", headers=bearer(full["key"]), json={"title": "K"})
    assert made.status_code == 201
    assert (await api.get("/api/conversations", headers=reader)).json()["count"] == 1
    refused = await api.post("/api/conversations", headers=reader, json={"title": "no"})
    assert refused.status_code == 403 and refused.json()["code"] == "API_KEY_READ_ONLY"
    listed = (await api.get("/api/keys", headers=auth)).json()
    assert listed["count"] == 2 and all("key" not in k for k in listed["keys"])
    short = (
        await api.post("/api/keys", headers=auth, json={"name": "s", "expiresIn": "1h"})
    ).json()
    await chat_core.db.api_keys.update_one(
        {"keyId": short["id"]}, {"$set": {"expiresAt": chat_core.clock.now() - timedelta(1)}}
    )
    expired = await api.get("/api/users/me", headers=bearer(short["key"]))
    assert expired.status_code == 401 and "expired" in expired.json()["details"]
    user = await chat_core.db.users.find_one({"email": "kit@example.com"})
    await chat_core.db.users.update_one(
        {"_id": user["_id"]}, {"$set": {"lockedUntil": chat_core.clock.now() + timedelta(hours=1)}}
    )
    locked = await api.get("/api/users/me", headers=bearer(full["key"]))
    assert locked.status_code == 423 and locked.headers["retry-after"]
    await chat_core.db.users.delete_one({"_id": user["_id"]})
    deleted = await api.get("/api/users/me", headers=bearer(full["key"]))
    assert deleted.status_code == 401
    bad = await api.post("/api/keys", headers=auth, json={"name": " "})
    assert bad.status_code in (400, 401)
