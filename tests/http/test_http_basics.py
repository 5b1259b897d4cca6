"""Health, OpenAPI, and the error envelope for unknown routes and methods."""

from __future__ import annotations

import httpx

from apsara_core.db.schema import SCHEMA_VERSION


async def test_health(http: httpx.AsyncClient) -> None:
    resp = await http.get("/api/health")
    assert resp.status_code == 200
    body = resp.json()
    assert (
        body["success"] is True
        and body["status"] == "ok"
        and body["version"]
        and "providers" in body
        and body["schemaVersion"] == SCHEMA_VERSION
    )


async def test_openapi_lists_endpoints(http: httpx.AsyncClient) -> None:
    spec = (await http.get("/api/openapi.json")).json()
    assert spec["openapi"].startswith("3.")
    assert "get" in spec["paths"]["/api/health"]


async def test_unknown_route_and_method_use_the_envelope(http: httpx.AsyncClient) -> None:
    resp = await http.get("/api/nope")
    assert resp.status_code == 404
    assert resp.json() == {
        "success": False,
        "error": "Not Found",
        "details": "Not Found",
        "code": "NOT_FOUND",
        "suggestions": ["See /api/openapi.json for the endpoints"],
    }
    resp = await http.post("/api/health")
    assert resp.status_code == 405 and resp.json()["code"] == "METHOD_NOT_ALLOWED"


async def test_request_limit_per_caller(http: httpx.AsyncClient, core) -> None:
    core.request_limiter.max_requests = 3
    statuses = [(await http.get("/api/conversations")).status_code for _ in range(4)]
    assert statuses[:3] == [401, 401, 401]  # counted, then refused for lack of a token
    refused = await http.get("/api/conversations")
    assert refused.status_code == 429
    body = refused.json()
    assert body["code"] == "TOO_MANY_REQUESTS" and body["resetTime"].endswith("Z")
    assert (await http.get("/api/health")).status_code == 200  # exempt
    assert statuses[3] == 429


async def test_openapi_declares_bodies_responses_and_security(http: httpx.AsyncClient) -> None:
    spec = (await http.get("/api/openapi.json")).json()
    assert spec["openapi"] == "3.1.0"
    assert {"bearerAuth", "apiKey"} <= set(spec["components"]["securitySchemes"])
    generate = spec["paths"]["/api/ai/generate"]["post"]
    assert generate["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/GenerateBody"
    )
    assert {"200", "400", "401", "413", "415", "429"} <= set(generate["responses"])
    assert "text/event-stream" in generate["responses"]["200"]["content"]
    conv = spec["paths"]["/api/conversations/{conversation_id}"]["get"]
    assert conv["parameters"][0]["name"] == "conversation_id"
    assert spec["paths"]["/api/users/login"]["post"]["security"] == []


async def test_openapi_declares_the_records_fields(http: httpx.AsyncClient) -> None:
    """Users, conversations, messages and keys are typed for client generators; a user's
    schema never names a password."""
    schemas = (await http.get("/api/openapi.json")).json()["components"]["schemas"]
    user = schemas["UserRecord"]
    assert {"_id", "email", "role", "subscriptionPlan", "createdAt"} <= set(user["required"])
    assert not {"password", "passwordPepper"} & set(user["properties"])
    assert schemas["MessageRecord"]["properties"]["role"]["enum"] == ["user", "model", "tool"]
    assert "stats" in schemas["ConversationRecord"]["required"]
    assert "key" not in schemas["ApiKeyRecord"]["properties"]


async def test_docs_page_is_served_from_the_package(http: httpx.AsyncClient) -> None:
    page = await http.get("/api/docs")
    assert page.status_code == 200 and "/api/openapi.json" in page.text
    script = await http.get("/api/docs/assets/swagger-ui-bundle.js")
    assert script.status_code == 200 and len(script.content) > 100_000


async def test_health_is_503_when_the_database_is_unreachable(core) -> None:
    from pymongo import AsyncMongoClient

    from apsara_core.http.app import create_app

    dead = AsyncMongoClient("mongodb://127.0.0.1:1", serverSelectionTimeoutMS=300)
    real, core.db = core.db, dead["apsara"]  # the database stops answering
    try:
        app = create_app(core)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                resp = await client.get("/api/health")
    finally:
        core.db = real
        await dead.close()
    assert resp.status_code == 503 and resp.json()["code"] == "DATABASE_UNAVAILABLE"


async def test_every_request_echoes_its_id(http: httpx.AsyncClient) -> None:
    resp = await http.get("/api/health", headers={"X-Request-ID": "abc-123"})
    assert resp.headers["x-request-id"] == "abc-123"
    fresh = await http.get("/api/health", headers={"X-Request-ID": "bad id\n"})
    assert len(fresh.headers["x-request-id"]) == 32
