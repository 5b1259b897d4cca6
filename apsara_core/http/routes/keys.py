"""Personal API keys: /api/keys (create, list, revoke). A key is shown once, at creation."""

from __future__ import annotations

from pydantic import Field, StrictBool, StrictStr
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from apsara_core.http import responses
from apsara_core.http.deps import acting_for, core_of, ok, read_json, require_actor
from apsara_core.http.openapi import operation
from apsara_core.http.openapi_files import documented
from apsara_core.http.schemas import Body, Id


class KeyCreateBody(Body):
    userId: Id | None = None
    name: StrictStr = Field(min_length=1, max_length=100, json_schema_extra={"pattern": r"\S"})
    expiresIn: StrictStr | None = Field(
        None, json_schema_extra={"pattern": r"^\s*[1-9]\d{0,8}\s*[smhdw]?\s*$"}
    )
    readOnly: StrictBool = False


class KeyCreated(responses.Out):
    key: str
    id: str
    name: str


class Keys(responses.Out):
    keys: list[responses.ApiKeyRecord]
    count: int


class KeyRevoked(responses.Out):
    id: str
    revoked: bool


async def create_key(request: Request) -> JSONResponse:
    """Create a personal API key (shown once; send it as Authorization: Bearer <key>)."""
    body = await read_json(request, KeyCreateBody)
    actor = await acting_for(request, body.userId)
    created = await core_of(request).api_keys.create(
        actor=actor, name=body.name, expires_in=body.expiresIn, read_only=body.readOnly
    )
    return ok(201, **created)


async def list_keys(request: Request) -> JSONResponse:
    """The caller's API keys (never the keys themselves)."""
    actor = await require_actor(request)
    keys = await core_of(request).api_keys.list(
        actor=actor, user_id=request.query_params.get("userId") or actor.user_id
    )
    return ok(keys=keys, count=len(keys))


async def revoke_key(request: Request) -> JSONResponse:
    """Revoke an API key at once."""
    actor = await require_actor(request)
    return ok(
        **await core_of(request).api_keys.revoke(actor=actor, key_id=request.path_params["key_id"])
    )


ROUTES = [
    Route(
        "/keys",
        documented(create_key, operation(ok=KeyCreated, status=201, body=KeyCreateBody)),
        methods=["POST"],
    ),
    Route("/keys", documented(list_keys, operation(ok=Keys)), methods=["GET"]),
    Route("/keys/{key_id}", documented(revoke_key, operation(ok=KeyRevoked)), methods=["DELETE"]),
]
