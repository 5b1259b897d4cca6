"""Settings read from the environment and `.env` (pydantic-settings).

Every variable the README documents is a field here; secrets are `SecretStr` so they never
print. `Settings.load()` is the one entry point front ends use.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from apsara_core.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MIN_SECRET_BYTES = 32
_SECRET_HINT = "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"


def key_id(key: bytes) -> str:
    """A short public fingerprint of a key (first 8 hex digits of its SHA-256).

    Names the key that signed a token (`kid`) or peppered a password hash without
    revealing it; 32 bits of the hash of a 256-bit secret give nothing to guess from.
    """
    return hashlib.sha256(key).hexdigest()[:8]


def duration_seconds(text: str) -> int:
    """The seconds of `7d`, `12h`, `30m`, `45s` or plain seconds (any size).

    Raises:
        ConfigError: when the text is not such a duration or is zero.
    """
    match = _DURATION.match(text or "")
    if not match or int(match.group(1)) <= 0:
        raise ConfigError(
            f"JWT_EXPIRES_IN must be a positive duration like 7d, 12h, 30m or 3600; got {text!r}",
            field="JWT_EXPIRES_IN",
        )
    return int(match.group(1)) * _UNITS[match.group(2)]


def parse_duration(text: str) -> timedelta:
    """`duration_seconds` as a timedelta.

    Raises:
        ConfigError: not such a duration, zero, or longer than a timedelta holds.
    """
    seconds = duration_seconds(text)
    if seconds > timedelta.max.total_seconds():
        raise ConfigError(
            f"JWT_EXPIRES_IN is longer than any date can hold; got {text!r}",
            field="JWT_EXPIRES_IN",
        )
    return timedelta(seconds=seconds)


SIZE = r"[1-9][0-9]*[MG]"
"""A memory size setting: a whole number and M or G. A field with a pattern says in words what
it takes (`json_schema_extra={"expected": ...}`): its error says that, not the regex."""


class Settings(BaseSettings):
    """Apsara's configuration; each field is one environment variable."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    port: int = Field(5000, validation_alias="PORT", ge=1, le=65535)
    """TCP port of `apsara serve`."""
    env: Literal["development", "production", "test"] = Field(
        "development", validation_alias=AliasChoices("APSARA_ENV", "NODE_ENV")
    )
    """Deployment environment (APSARA_ENV, or NODE_ENV as in the original)."""
    mongodb_uri: SecretStr | None = Field(None, validation_alias="MONGODB_URI")
    """MongoDB connection string; unset means the embedded server in the data dir."""
    jwt_secret: SecretStr | None = Field(None, validation_alias="JWT_SECRET")
    """HS256 key, at least 32 bytes; unset means a random one kept in the data dir."""
    jwt_previous_secrets: SecretStr | None = Field(None, validation_alias="JWT_PREVIOUS_SECRETS")
    """Earlier HS256 keys, comma-separated: their tokens are accepted until they expire."""
    password_pepper: SecretStr | None = Field(None, validation_alias="PASSWORD_PEPPER")
    """Key of the HMAC pre-hash of passwords, at least 32 bytes; unset: generated in the data
    dir. Independent of JWT_SECRET, so rotating that one never touches passwords."""
    jwt_expires_in: str = Field("7d", validation_alias="JWT_EXPIRES_IN")
    """Session lifetime: 7d, 12h, 30m or seconds."""
    google_ai_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("GOOGLE_AI_API_KEY", "GEMINI_API_KEY")
    )
    """Gemini API key (GOOGLE_AI_API_KEY, or GEMINI_API_KEY)."""
    google_gemini_base_url: str | None = Field(None, validation_alias="GOOGLE_GEMINI_BASE_URL")
    """Another Gemini endpoint (a proxy, or the test fake)."""
    email_from: str = Field("noreply@apsara.local", validation_alias="EMAIL_FROM")
    """Sender address of one-time-code mails."""
    email_smtp_url: SecretStr | None = Field(None, validation_alias="EMAIL_SMTP_URL")
    """smtp://user:pass@host:587 (STARTTLS when offered) or smtps://...; unset: database outbox."""
    email_service_api_key: SecretStr | None = Field(None, validation_alias="EMAIL_SERVICE_API_KEY")
    """Kept for compatibility with the original; SMTP credentials go in EMAIL_SMTP_URL."""
    google_client_id: str | None = Field(None, validation_alias="GOOGLE_CLIENT_ID")
    """OAuth client id: the audience every Google ID token must carry."""
    google_client_secret: SecretStr | None = Field(None, validation_alias="GOOGLE_CLIENT_SECRET")
    """OAuth client secret (not needed to verify ID tokens)."""
    google_jwks_url: str = Field(
        "https://www.googleapis.com/oauth2/v3/certs", validation_alias="GOOGLE_JWKS_URL"
    )
    """Where Google's signing keys are published."""
    rate_limit_window_ms: int = Field(900_000, validation_alias="RATE_LIMIT_WINDOW_MS", gt=0)
    """HTTP request-limiter window in milliseconds."""
    rate_limit_max_requests: int = Field(100, validation_alias="RATE_LIMIT_MAX_REQUESTS", gt=0)
    """HTTP requests allowed per caller per window."""
    trusted_proxies: str = Field("", validation_alias="APSARA_TRUSTED_PROXIES")
    """Comma-separated IPs or CIDR networks whose X-Forwarded-For `apsara serve` believes;
    empty (the default) trusts no one, so a client cannot pick its own address."""
    guest_accounts_per_address_per_day: int = Field(
        3, validation_alias="APSARA_GUEST_ACCOUNTS_PER_ADDRESS_PER_DAY", ge=1, le=100_000
    )
    """New guest accounts one client address may create per UTC day (a speed bump)."""
    data_dir: Path = Field(
        default_factory=lambda: Path(platformdirs.user_data_dir("apsara")),
        validation_alias="APSARA_DATA_DIR",
    )
    """Embedded database, generated secrets and session files live here."""
    embedded_sync_on_commit: bool = Field(True, validation_alias="APSARA_EMBEDDED_SYNC_ON_COMMIT")
    """Start the embedded server with --sync-on-commit: every commit is flushed to disk before
    it is acknowledged. Without it, transactions (every send stores in them) are not even
    crash-safe: a SIGKILL lost 1-8 of 200 acknowledged ones; with it none, at a cost within
    noise on a reservation and a send (measured: tests/stress/durability.py)."""
    embedded_cache_size: str = Field(
        "1G",
        validation_alias="APSARA_EMBEDDED_CACHE_SIZE",
        pattern=f"^{SIZE}$",
        json_schema_extra={"expected": "a size: a whole number and M or G, such as 512M or 2G"},
    )
    """The embedded server's storage cache (`--cache-size`, e.g. 256M, 1G, 4G). It bounds the
    memory that stored data takes (bulk inserts: 128M held the server at 197 MiB through
    400,000 documents, 1G reached 629 MiB, same insert rate), not what transactions leave in
    the server's own heap (a 10-minute soak grew it alike with 128M and 1G). Size it to the hot
    data: at 100,000 users 256M made the user list 4x slower than 1G."""
    embedded_recycle_rss: str = Field(
        "2G",
        validation_alias="APSARA_EMBEDDED_RECYCLE_RSS",
        pattern=f"^({SIZE}|off)$",
        json_schema_extra={"expected": "a size (a whole number and M or G, such as 2G) or off"},
    )
    """Restart the embedded server Apsara started once its memory is over this (e.g. 1G, 2G,
    or off) and it has been idle for APSARA_EMBEDDED_RECYCLE_IDLE_S: it never frees what its
    transactions leave, about 1.1 GiB per 100,000 messages (db/recycle.py)."""
    embedded_recycle_idle_s: float = Field(
        300.0, validation_alias="APSARA_EMBEDDED_RECYCLE_IDLE_S", gt=0, le=86_400
    )
    """Seconds without a write, from any process, before the embedded server may be
    restarted to free its memory (checked once a minute by `apsara serve`, the app and
    `apsara worker`)."""
    upload_dir: Path = Field(Path("uploads"), validation_alias="APSARA_UPLOAD_DIR")
    """Root of local file storage."""
    bcrypt_rounds: int = Field(12, validation_alias="APSARA_BCRYPT_ROUNDS", ge=4, le=16)
    """bcrypt cost; 12 in production (tests lower it to stay fast)."""
    max_message_chars: int = Field(100_000, validation_alias="APSARA_MAX_MESSAGE_CHARS", gt=0)
    """Longest message text accepted for the model, in characters."""
    gemini_timeout_s: float = Field(120.0, validation_alias="APSARA_GEMINI_TIMEOUT_S", gt=0)
    """HTTP timeout of one Gemini request, in seconds."""
    gemini_idle_timeout_s: float = Field(
        60.0, validation_alias="APSARA_GEMINI_IDLE_TIMEOUT_S", gt=0
    )
    """A stream that sends nothing for this many seconds is given up as interrupted."""
    gemini_retries: int = Field(3, validation_alias="APSARA_GEMINI_RETRIES", ge=1, le=10)
    """Attempts per model call on 429/5xx before the first chunk (exponential backoff)."""
    gemini_retry_base_s: float = Field(0.2, validation_alias="APSARA_GEMINI_RETRY_BASE_S", ge=0)
    """First backoff delay in seconds; doubled after each failed attempt."""
    history_max_messages: int = Field(200, validation_alias="APSARA_HISTORY_MAX_MESSAGES", gt=0)
    """Most recent messages read as the conversation history of a model call."""
    history_token_budget: int | None = Field(
        None, validation_alias="APSARA_HISTORY_TOKEN_BUDGET", gt=0
    )
    """Token budget of the history (~4 chars per token); unset: the model's own budget."""
    s3_bucket: str | None = Field(None, validation_alias="S3_BUCKET")
    """Bucket of S3 file storage; unset: S3 is not offered (auto never picks it)."""
    s3_endpoint_url: str | None = Field(None, validation_alias="S3_ENDPOINT_URL")
    """Another S3 endpoint (MinIO, moto_server); unset: AWS's own."""
    s3_prefix: str = Field("", validation_alias="S3_PREFIX")
    """Key prefix of every object Apsara stores in the bucket (e.g. apsara/)."""
    aws_access_key_id: SecretStr | None = Field(None, validation_alias="AWS_ACCESS_KEY_ID")
    """S3 credentials; unset: boto3's own chain (instance role, ~/.aws)."""
    aws_secret_access_key: SecretStr | None = Field(None, validation_alias="AWS_SECRET_ACCESS_KEY")
    """Secret of AWS_ACCESS_KEY_ID."""
    aws_session_token: SecretStr | None = Field(None, validation_alias="AWS_SESSION_TOKEN")
    """Temporary-credential token, when the keys are temporary."""
    aws_region: str | None = Field(
        None, validation_alias=AliasChoices("AWS_DEFAULT_REGION", "AWS_REGION")
    )
    """Region of the bucket (AWS_DEFAULT_REGION, or AWS_REGION)."""
    inprocess_worker: bool = Field(True, validation_alias="APSARA_INPROCESS_WORKER")
    """Whether `apsara serve` runs a plugin-job worker in its own process."""
    worker_concurrency: int = Field(4, validation_alias="APSARA_WORKER_CONCURRENCY", ge=1, le=256)
    """Jobs one worker runs at once (`apsara worker --concurrency` overrides)."""
    job_lease_s: float = Field(30.0, validation_alias="APSARA_JOB_LEASE_S", ge=0.3, le=3600)
    """A running job's lease; renewed every third of it, taken over when it runs out."""
    job_poll_s: float = Field(1.0, validation_alias="APSARA_JOB_POLL_S", gt=0, le=60)
    """How often an idle worker looks for jobs without a change-stream wake-up."""
    cors_origins: str = Field("", validation_alias="APSARA_CORS_ORIGINS")
    """Browser origins allowed to call the HTTP API, comma-separated (https://app.example.com);
    `*` allows any origin (not with credentials). Empty (the default): no CORS headers."""
    cors_allow_credentials: bool = Field(False, validation_alias="APSARA_CORS_ALLOW_CREDENTIALS")
    """Whether browsers may send cookies/Authorization with cross-origin calls."""
    file_active_timeout_s: float = Field(
        120.0, validation_alias="APSARA_FILE_ACTIVE_TIMEOUT_S", gt=0
    )
    """How long a Gemini File API copy may stay PROCESSING before a request using it fails."""

    @field_validator(
        "mongodb_uri",
        "jwt_secret",
        "jwt_previous_secrets",
        "password_pepper",
        "google_ai_api_key",
        "email_smtp_url",
        "s3_bucket",
        "s3_endpoint_url",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "aws_region",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """`MONGODB_URI=` (an empty line in .env) means unset, not an empty URI."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("jwt_expires_in")
    @classmethod
    def _check_duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: str) -> str:
        return ",".join(parse_networks(value))

    @model_validator(mode="after")
    def _check_cors(self) -> Settings:
        origins = self.cors_origin_list
        if "*" in origins and self.cors_allow_credentials:
            raise ConfigError(
                "APSARA_CORS_ORIGINS=* cannot be used with APSARA_CORS_ALLOW_CREDENTIALS=true: "
                "a browser would send credentials to every site",
                field="APSARA_CORS_ORIGINS",
                suggestions=["List the allowed origins, e.g. https://app.example.com"],
            )
        for origin in origins:
            if origin != "*" and not re.fullmatch(r"https?://[^/\s]+", origin):
                raise ConfigError(
                    f"APSARA_CORS_ORIGINS: {origin!r} is not an origin like "
                    "https://app.example.com (scheme and host, no path)",
                    field="APSARA_CORS_ORIGINS",
                )
        return self

    @property
    def cors_origin_list(self) -> list[str]:
        """APSARA_CORS_ORIGINS as a list (empty: CORS off)."""
        return [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()]

    @property
    def s3_configured(self) -> bool:
        """Whether S3 storage is offered (S3_BUCKET is set)."""
        return bool(self.s3_bucket)

    @property
    def trusted_proxy_list(self) -> list[str]:
        """APSARA_TRUSTED_PROXIES as a list of networks (empty: trust no proxy)."""
        return [item for item in self.trusted_proxies.split(",") if item]

    @property
    def token_lifetime(self) -> timedelta:
        """JWT_EXPIRES_IN as a timedelta."""
        return parse_duration(self.jwt_expires_in)

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Read settings, turning validation failures into one clear ConfigError."""
        from pydantic import ValidationError

        try:
            return cls(**overrides)
        except ValidationError as exc:
            err = exc.errors()[0]
            name = err["loc"][0] if err["loc"] else "settings"
            message = err["msg"]
            expected = cls._expected(str(name))
            if err["type"] == "string_pattern_mismatch" and expected:
                message = f"expected {expected}; got {err['input']!r}"
            raise ConfigError(f"Invalid setting {name}: {message}", field=str(name)) from None

    @classmethod
    def _expected(cls, alias: str) -> str | None:
        """What the setting named `alias` takes, in words, when its field says so."""
        for spec in cls.model_fields.values():
            if spec.validation_alias == alias and isinstance(spec.json_schema_extra, dict):
                return str(spec.json_schema_extra.get("expected") or "") or None
        return None

    def jwt_key(self) -> bytes:
        """The current HS256 key: the configured one, or one generated once into the data dir.

        Raises:
            ConfigError: a configured secret shorter than 32 bytes, or an unwritable data dir.
        """
        if self.jwt_secret is not None:
            return _long_enough(self.jwt_secret.get_secret_value().encode(), "JWT_SECRET")
        return _generated_secret(ensure_data_dir(self.data_dir) / "jwt_secret")

    def jwt_keys(self) -> list[bytes]:
        """The current HS256 key first, then JWT_PREVIOUS_SECRETS (duplicates dropped).

        Raises:
            ConfigError: a key shorter than 32 bytes (naming its variable).
        """
        keys = [self.jwt_key()]
        raw = self.jwt_previous_secrets.get_secret_value() if self.jwt_previous_secrets else ""
        for item in (part.strip() for part in raw.split(",")):
            key = (
                _long_enough(item.encode(), "JWT_PREVIOUS_SECRETS", "A key in JWT_PREVIOUS_SECRETS")
                if item
                else None
            )
            if key is not None and key not in keys:
                keys.append(key)
        return keys

    def pepper_key(self) -> bytes:
        """The password pepper: PASSWORD_PEPPER, or one generated once into the data dir.

        Never derived from the JWT key: rotating JWT_SECRET must leave passwords working.

        Raises:
            ConfigError: a configured pepper shorter than 32 bytes, or an unwritable data dir.
        """
        if self.password_pepper is not None:
            return _long_enough(self.password_pepper.get_secret_value().encode(), "PASSWORD_PEPPER")
        return _generated_secret(ensure_data_dir(self.data_dir) / "password_pepper")


def _long_enough(key: bytes, name: str, label: str | None = None) -> bytes:
    if len(key) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"{label or name} is {len(key)} bytes; it must be at least "
            f"{MIN_SECRET_BYTES} bytes. {_SECRET_HINT}",
            field=name,
        )
    return key


def parse_networks(text: str, name: str = "APSARA_TRUSTED_PROXIES") -> list[str]:
    """Comma-separated IPs and CIDR networks, normalised ("10.0.0.1" -> "10.0.0.1/32").

    Raises:
        ConfigError: naming the variable and the entry that is not an address or network.
    """
    networks = []
    for item in (part.strip() for part in (text or "").split(",")):
        if not item:
            continue
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ConfigError(
                f"{name} must list IP addresses or networks like 10.0.0.0/8, separated by "
                f"commas; {item!r} is not one (to trust every address, say 0.0.0.0/0,::/0)",
                field=name,
            ) from None
    return networks


def ensure_data_dir(path: Path) -> Path:
    """Create the data dir (mode 0700) and check it is writable.

    Raises:
        ConfigError: naming the directory when it cannot be created or written.
    """
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        probe = path / f".write-test-{os.getpid()}-{secrets.token_hex(4)}"  # one per process:
        # a shared name let one starting process delete another's probe under it
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(
            f"Data directory {path} is not writable ({exc.strerror}); "
            "set APSARA_DATA_DIR to a writable directory",
            field="APSARA_DATA_DIR",
        ) from None
    return path


def _generated_secret(path: Path) -> bytes:
    """Read the secret at `path`, creating 32 random bytes there (mode 0600) the first time.

    The file is written aside and hard-linked into place so a second process never reads
    a half-written secret.
    """
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(MIN_SECRET_BYTES))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_bytes()
