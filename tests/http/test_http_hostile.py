"""No input gets a 500, and no error breaks the keep-alive connection.

Hostile bodies go to every JSON route of a real `apsara serve` (the routes are read from its
OpenAPI description, so a new route is covered by itself) over ONE connection: each must get
a 4xx naming the field, and the same connection must serve the next request.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from starlette.requests import Request
from starlette.routing import Route

from apsara_core.db.embedded import free_port
from apsara_core.http.app import create_app
from tests.http.served import Served

NO_BODY = {
    ("post", "/api/users/logout"),
    ("post", "/api/users/logout-all"),
    ("post", "/api/plugins/jobs/{job_id}/cancel"),
}
DEEP = "[" * 100_000 + "]" * 100_000

# (body, the field the error must name; None: any field). Every value check runs before the
# route's own model, so the expected field does not depend on the route.
HOSTILE: list[tuple[bytes, str | None]] = [
    (('{"email":' + DEEP + "}").encode(), "body"),  # RecursionError before
    (('{"title":' + "[" * 70 + "]" * 70 + "}").encode(), None),  # past 64 levels
    (
        b'{"config": {"temperature": 1' + b"0" * 400 + b"}}",
        "config.temperature",
    ),  # OverflowError before
    (b'{"contents": 1e400}', "contents"),
    (b'{"contents": NaN}', "body"),
    (b'{"config": {"topP": -Infinity}}', "body"),
    (b'{"n": 1' + b"0" * 5000 + b"}", "body"),  # past int()'s 4300 digits
    (b'{"contents": "hi \\ud800"}', "contents"),  # lone surrogate
    (b'{"title": "\\udfff"}', "title"),
    (b'{"\\ud800": 1}', "body"),
    (b'{"email": "\xff\xfe"}', "body"),  # not UTF-8
    (b'{"email": {"$ne": null}, "title": {"$ne": null}, "conversationId": {"$gt": ""}}', None),
    (b'{"email": 123, "password": [], "title": 5, "contents": false}', None),
    (b"[]", "body"),
    (b'[{"email": "a@b.co"}]', "body"),
    (b'"just a string"', "body"),
    (b"null", "body"),
    (b"not json", "body"),
    (b'{"email": "a@b.co', "body"),
]


def json_routes(client: httpx.Client) -> list[tuple[str, str]]:
    """(method, path) of every route that takes a JSON body, from the live OpenAPI."""
    spec = client.get("/api/openapi.json").json()
    routes = [
        (method, path.replace("{conversation_id}", "c_fuzz"))
        for path, methods in spec["paths"].items()
        for method, op in methods.items()
        if method in ("post", "put", "patch")  # multipart uploads are not JSON routes
        and "multipart/form-data" not in (op.get("requestBody") or {}).get("content", {})
    ]
    return [r for r in routes if r not in NO_BODY]


def local_address(resp: httpx.Response) -> tuple[str, int]:
    """The client side of the connection that carried `resp`."""
    return resp.extensions["network_stream"].get_extra_info("client_addr")


def test_hostile_bodies_get_4xx_naming_the_field_on_one_live_connection(served: Served) -> None:
    with httpx.Client(
        base_url=served.url,
        timeout=30,
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
    ) as client:
        guest = client.post("/api/users/guest-login", json={"clientKey": "fuzz"})
        assert guest.status_code == 201, guest.text
        auth = {
            "Authorization": f"Bearer {guest.json()['token']}",
            "Content-Type": "application/json",
        }
        connection = local_address(guest)
        routes = json_routes(client)
        assert len(routes) >= 16 and ("post", "/api/ai/generate/stream") in routes
        failures = []
        for method, path in routes:
            for body, field in HOSTILE:
                resp = client.request(method, path, content=body, headers=auth)
                envelope = (
                    resp.json() if resp.headers.get("content-type") == "application/json" else {}
                )
                if (
                    not 400 <= resp.status_code < 500
                    or not envelope.get("field")
                    or (field and envelope["field"] != field)
                    or local_address(resp) != connection
                ):
                    failures.append((method, path, body[:40], resp.status_code, resp.text[:120]))
        assert failures == []
        assert (
            client.get("/api/users/me", headers=auth).status_code == 200
        )  # still the same session
    assert "Traceback" not in served.log.read_text()  # no bug was hit on the way


def test_huge_numbers_and_bad_text_in_known_fields_name_them(served: Served) -> None:
    with httpx.Client(base_url=served.url, timeout=30) as client:
        token = client.post("/api/users/guest-login", json={"clientKey": "k"}).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        cid = client.post("/api/conversations", headers=auth, json={"title": "T"}).json()[
            "conversationId"
        ]
        cases = [
            (
                {"conversationId": cid, "contents": "x", "config": {"temperature": 10**400}},
                "config.temperature",
            ),
            (
                {"conversationId": cid, "contents": "x", "config": {"temperature": 3}},
                "config.temperature",
            ),
            ({"conversationId": cid, "contents": "caf\udce9"}, "contents"),
            ({"conversationId": cid, "contents": "x", "files": ["gs://b/\ud800"]}, "files[0]"),
        ]
        for body, field in cases:
            raw = json.dumps(body).encode()  # ensure_ascii: surrogates travel as \\u escapes
            for path in ("/api/ai/generate", "/api/ai/generate/stream"):
                resp = client.post(
                    path, headers={**auth, "Content-Type": "application/json"}, content=raw
                )
                assert resp.status_code == 400 and resp.json()["field"] == field, (path, resp.text)
        for query in ("limit=1" + "0" * 5000, "limit=%C2%B2", "skip=-1"):
            resp = client.get(f"/api/conversations?{query}", headers=auth)
            assert resp.status_code == 400 and resp.json()["field"] in ("limit", "skip")
        messages = client.get(f"/api/conversations/{cid}/messages", headers=auth).json()
        assert messages["count"] == 0  # nothing was stored for any refused call


@pytest.fixture
def buggy_server(settings) -> Iterator[str]:
    """The real app, plus one route with a bug, served by uvicorn (as `apsara serve` does)."""
    app = create_app(settings=settings)

    async def boom(request: Request) -> None:
        raise RuntimeError("a bug")

    app.router.routes.insert(0, Route("/api/boom", boom, methods=["GET"]))  # before the /api mount
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_a_bug_is_a_500_envelope_and_the_connection_stays_usable(buggy_server: str) -> None:
    with httpx.Client(base_url=buggy_server, timeout=10) as client:
        first = client.get("/api/health")
        for _ in range(3):
            resp = client.get("/api/boom")
            assert resp.status_code == 500
            assert resp.json() == {
                "success": False,
                "error": "Internal error",
                "details": "An unexpected error occurred; it has been logged.",
                "code": "INTERNAL_ERROR",
                "suggestions": [],
            }
            after = client.get("/api/health")  # was ECONNRESET: uvicorn closed after the 500
            assert after.status_code == 200 and local_address(after) == local_address(first)
