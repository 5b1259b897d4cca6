"""The async MongoDB client: MONGODB_URI when set, else the embedded server."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConfigurationError, InvalidURI, PyMongoError
from pymongo.uri_parser import parse_uri

from apsara_core.config import Settings
from apsara_core.db.embedded import EmbeddedServer
from apsara_core.errors import ConfigError, DatabaseUnavailableError

CONNECT_TIMEOUT_MS = 5000
DEFAULT_DB = "apsara"


@dataclass(frozen=True)
class Target:
    """Where the database is: the URI to connect to and a label safe to show."""

    uri: str
    label: str
    embedded: bool
    database: str


def resolve_target(settings: Settings) -> Target:
    """Pick MONGODB_URI or the embedded server (starting it when needed).

    Raises:
        ConfigError: MONGODB_URI is malformed.
        DatabaseUnavailableError: the embedded server cannot be started.
    """
    if settings.mongodb_uri is None:
        server = EmbeddedServer.from_settings(settings)
        state = server.ensure_running()
        return Target(state.uri, f"embedded 127.0.0.1:{state.port}", True, DEFAULT_DB)
    uri = settings.mongodb_uri.get_secret_value()
    try:
        parsed = parse_uri(uri)
    except (InvalidURI, ConfigurationError, ValueError) as exc:
        reason = str(exc).replace(uri, "<uri>") if uri else str(exc)
        raise ConfigError(
            f"MONGODB_URI is malformed: {reason}",
            field="MONGODB_URI",
            suggestions=["Use mongodb://host:27017/apsara or mongodb+srv://..."],
        ) from None
    hosts = ",".join(f"{h}:{p}" for h, p in parsed["nodelist"]) or uri.split("@")[-1].split("/")[0]
    return Target(uri, hosts, False, parsed.get("database") or DEFAULT_DB)


def _client(
    target: Target,
    *,
    retry_writes: bool,
    timeout_ms: int = CONNECT_TIMEOUT_MS,
    appname: str = "apsara",
) -> AsyncMongoClient:
    return AsyncMongoClient(
        target.uri,
        w="majority",
        journal=True,
        retryWrites=retry_writes,
        tz_aware=True,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        appname=appname,
    )


BUSY_TIMEOUT_MS = 30 * 60 * 1000  # an index build over a large collection blocks the server


def patient_client(target: Target) -> AsyncMongoClient:
    """A client for one long command (building indexes over a seeded collection): the
    embedded server answers nothing else meanwhile, and a client whose heartbeat gives up
    after CONNECT_TIMEOUT_MS marks it down and cancels the command in flight."""
    return _client(target, retry_writes=False, timeout_ms=BUSY_TIMEOUT_MS, appname="apsara-seed")


def is_embedded_server(build_info: dict[str, Any]) -> bool:
    """Whether `buildInfo` comes from SecantusDB (the embedded server), wherever it runs."""
    return "secantusVersion" in build_info


async def connect(target: Target) -> tuple[AsyncMongoClient, AsyncDatabase]:
    """Open the client (majority writes, journal) and check it answers.

    Retryable writes are on for a real MongoDB, where failover is what they are for, and
    off for the embedded server (started by us or reached through MONGODB_URI): there every
    retryable write leaves state in the server process that slows each later one down
    (2.7 ms per step at 1,000 steps, 19 ms at 6,000; flat at 1.2-1.6 ms without). No code
    path relies on a driver retry for correctness: multi-document changes run in
    transactions, which the driver retries as a whole either way.

    Raises:
        DatabaseUnavailableError: naming the host (never the password) after ~5 s.
    """
    client = _client(target, retry_writes=False)
    try:
        info = await client.admin.command("buildInfo")
    except PyMongoError:
        await client.close()
        raise DatabaseUnavailableError(
            f"Cannot reach MongoDB at {target.label} within {CONNECT_TIMEOUT_MS // 1000} s",
            suggestions=[
                "Check that the server is running and MONGODB_URI is right",
                "Unset MONGODB_URI to use the embedded server",
            ],
        ) from None
    if not (target.embedded or is_embedded_server(info)) and _uri_allows_retries(target.uri):
        await client.close()
        client = _client(target, retry_writes=True)
    return client, client[target.database]


def _uri_allows_retries(uri: str) -> bool:
    """False when the URI itself says retryWrites=false (the operator's choice wins)."""
    try:
        return bool(parse_uri(uri)["options"].get("retryWrites", True))
    except (InvalidURI, ConfigurationError, ValueError):
        return True
