"""Request helpers: the Core, the authenticated actor, validated JSON bodies, envelopes, and\nthe documented route of a handler."""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Scope

from apsara_core.core import Core
from apsara_core.errors import (
    AuthenticationError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
    ValidationError,
)
from apsara_core.http.openapi import operation
from apsara_core.http.openapi_files import documented
from apsara_core.jsonable import jsonable
from apsara_core.models import Principal
from apsara_core.services.api_keys import is_api_key
from apsara_core.services.inputs import parse

M = TypeVar("M", bound=BaseModel)
MAX_JSON_BYTES = 1 << 20


def core_of(request: Request) -> Core:
    """The Core the app was built with."""
    return request.app.state.core


def bearer_token(request: Request) -> str | None:
    """The token of `Authorization: Bearer <jwt>`, or None."""
    return _bearer(request.headers.get("authorization", ""))


def _bearer(header: str) -> str | None:
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def prefetch_actor(scope: Scope) -> None:
    """Verify the request's session token ahead of its handler (the request limiter runs this
    alongside its own count, so the two round trips overlap). Only reads: a verified actor is
    kept for `require_actor`; a failure is left for it to raise; personal API keys, whose
    check records their use, wait for the handler."""
    token = _bearer(Headers(scope=scope).get("authorization", ""))
    if token is None or is_api_key(token):
        return
    try:
        actor = await scope["app"].state.core.auth.verify_token(token)
    except Exception:  # require_actor verifies again and answers with the error
        return
    scope.setdefault("state", {})["actor"] = actor


async def require_actor(request: Request) -> Principal:
    """The verified principal of the request: a session token or a personal API key.

    Raises:
        AuthenticationError: no, malformed, expired or revoked token or key.
        PermissionDeniedError: a read-only key on a method that changes something.
    """
    known = getattr(request.state, "actor", None)
    if known is not None:
        return known
    token = bearer_token(request)
    if token is None:
        raise AuthenticationError(
            "Missing bearer token",
            suggestions=["Send Authorization: Bearer <token> from /api/users/login"],
        )
    core = core_of(request)
    if is_api_key(token):
        actor = await core.api_keys.verify(token)
        if request.method not in ("GET", "HEAD"):
            core.api_keys.check_write(actor)
    else:
        actor = await core.auth.verify_token(token)
    request.state.actor = actor
    return actor


def authenticated(handler: Callable[[Request], Awaitable[Response]]) -> Any:
    """`handler`, run only for a verified caller: the token is checked before the body is
    read, so a protected route answers 401 to anyone without one, whatever they send."""

    @functools.wraps(handler)
    async def run(request: Request) -> Response:
        await require_actor(request)
        return await handler(request)

    return run


async def read_body(request: Request, limit: int = MAX_JSON_BYTES) -> bytes:
    """The request body, refused as soon as it is known to exceed `limit` bytes.

    A declared Content-Length over the limit is refused before a byte is read; otherwise the
    body is counted as it arrives and reading stops past the limit, so a huge body never sits
    in memory. The refusal asks for the connection to be closed (the rest of the body is never
    read).

    Raises:
        PayloadTooLargeError: the body is (or says it is) over `limit` bytes.
    """
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise _too_large(request, limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(request, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(request: Request, limit: int) -> PayloadTooLargeError:
    request.state.close_connection = True  # rendered with Connection: close (http/errors.py)
    return PayloadTooLargeError(
        f"JSON body over {limit} bytes", field="body", suggestions=[f"Send at most {limit} bytes"]
    )


def _refuse_constant(name: str) -> Any:
    raise ValidationError(f"Body contains {name}, which is not a JSON number", field="body")


def check_json_type(request: Request) -> None:
    """Refuse a declared Content-Type that is not JSON (none at all is read as JSON).

    Raises:
        UnsupportedMediaTypeError: e.g. text/plain or a form.
    """
    declared = request.headers.get("content-type")
    if declared is None:
        return
    kind = declared.split(";", 1)[0].strip().lower()
    if kind != "application/json" and not (
        kind.startswith("application/") and kind.endswith("+json")
    ):
        raise UnsupportedMediaTypeError(
            f"Content-Type {kind or declared!r} is not JSON",
            field="Content-Type",
            suggestions=["Send the body as JSON with Content-Type: application/json"],
        )


def _number(text: str) -> float | int:
    """A JSON number with a fraction or exponent; integral ones (1.0, 2e3) read as integers,
    as JSON Schema's "integer" says they are."""
    value = float(text)
    if value.is_integer() and abs(value) < 2**63:
        return int(value)
    return value


async def read_json(request: Request, model: type[M]) -> M:
    """Parse and validate the JSON body; errors name the field and what was expected.

    An empty body reads as `{}`. NaN and Infinity are refused; so is nesting too deep for the
    parser (every other value check is `parse`'s, see services/input_checks.py).

    Raises:
        UnsupportedMediaTypeError: a Content-Type that is not JSON (415).
        PayloadTooLargeError: body over 1 MiB.
        ValidationError: not JSON, not an object, or a field is wrong.
    """
    check_json_type(request)
    body = await read_body(request)
    try:
        data = json.loads(body or b"{}", parse_constant=_refuse_constant, parse_float=_number)
    except RecursionError:
        raise ValidationError("Body is nested too deeply", field="body") from None
    except ValueError:  # includes invalid UTF-8 and integers of more than 4300 digits
        raise ValidationError("Body is not valid JSON", field="body") from None
    if not isinstance(data, dict):
        raise ValidationError("Body must be a JSON object", field="body")
    return parse(model, data)


def ok(status_code: int = 200, **fields: Any) -> JSONResponse:
    """The success envelope."""
    return JSONResponse(jsonable({"success": True, **fields}), status_code=status_code)


async def acting_for(request: Request, user_id: str | None) -> Principal:
    """The actor, or, for an admin naming `userId`, that user (the core's rule, see
    `SessionService.act_for`).

    Raises:
        NotFoundError: an admin named an unknown user.
    """
    return await core_of(request).sessions.act_for(await require_actor(request), user_id)


def client_address(request: Request) -> str:
    """The caller's network address. Behind a proxy listed in APSARA_TRUSTED_PROXIES the
    server has already replaced it with the X-Forwarded-For client; otherwise the header is
    ignored (`apsara serve` trusts no proxy by default)."""
    return request.client.host if request.client and request.client.host else "unknown"


def client_key(request: Request) -> str:
    """Who is calling, for guest allowances and request limits: the client address."""
    return f"ip:{client_address(request)}"


def doc_route(
    path: str, handler: Callable[[Request], Awaitable[Response]], method: str = "POST", **doc: Any
) -> Route:
    """A route to `handler` for one method, documented with `operation(**doc)`."""
    return Route(path, documented(handler, operation(**doc)), methods=[method])
