"""The async MongoDB client: MONGODB_URI when set, else the embedded server."""

from __future__ import annotations

from dataclasses import dataclass

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
        state = EmbeddedServer(settings.data_dir).ensure_running()
        return Target(state.uri, f"embedded 127.0.0.1:{state.port}", True, DEFAULT_DB)
    uri = settings.mongodb_uri.get_secret_value()
    try:
        parsed = parse_uri(uri)
    except (InvalidURI, ConfigurationError, ValueError) as exc:
        reason = str(exc).replace(uri, "<uri>") if uri else str(exc)
        raise ConfigError(f"MONGODB_URI is malformed: {reason}", field="MONGODB_URI",
                          suggestions=["Use mongodb://host:27017/apsara or mongodb+srv://..."]) from None
    hosts = ",".join(f"{h}:{p}" for h, p in parsed["nodelist"]) or uri.split("@")[-1].split("/")[0]
    return Target(uri, hosts, False, parsed.get("database") or DEFAULT_DB)


async def connect(target: Target) -> tuple[AsyncMongoClient, AsyncDatabase]:
    """Open the client (majority writes, journal, retryable writes) and check it answers.

    Raises:
        DatabaseUnavailableError: naming the host (never the password) after ~5 s.
    """
    client: AsyncMongoClient = AsyncMongoClient(
        target.uri, w="majority", journal=True, retryWrites=True, tz_aware=True,
        serverSelectionTimeoutMS=CONNECT_TIMEOUT_MS, connectTimeoutMS=CONNECT_TIMEOUT_MS,
        appname="apsara",
    )
    try:
        await client.admin.command("ping")
    except PyMongoError:
        await client.close()
        raise DatabaseUnavailableError(
            f"Cannot reach MongoDB at {target.label} within {CONNECT_TIMEOUT_MS // 1000} s",
            suggestions=["Check that the server is running and MONGODB_URI is right",
                         "Unset MONGODB_URI to use the embedded server"],
        ) from None
    return client, client[target.database]
