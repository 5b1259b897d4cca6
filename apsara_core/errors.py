"""The one error tree: every failure a user can see is an `ApsaraError`.

Each class carries an HTTP status and an UPPER_SNAKE code; front ends render `message`,
`details` and `suggestions` and never a stack trace.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


class Hint(str):
    """A suggestion with one form per front end: the string itself is the CLI's text
    ("List conversations with `apsara conv list`"), `http` the HTTP API's
    ("List conversations: GET /api/conversations"), None when the hint has no HTTP form.

    The core decides what to suggest once; each front end renders its own form (the HTTP
    error renderer uses `http_suggestions`).
    """

    http: str | None

    def __new__(cls, cli: str, http: str | None) -> Hint:
        hint = super().__new__(cls, cli)
        hint.http = http
        return hint


def http_suggestions(suggestions: list[str]) -> list[str]:
    """The HTTP forms of `suggestions` (plain strings as they are; CLI-only hints dropped)."""
    out = []
    for text in suggestions:
        form = text.http if isinstance(text, Hint) else text
        if form:
            out.append(form)
    return out


class ApsaraError(Exception):
    """Base of all user-facing errors.

    Args:
        message: one line saying what went wrong.
        details: more context (which value, which limit).
        suggestions: what the user can do about it.
        code: overrides the class's UPPER_SNAKE code.
        field: the input field at fault, when there is one.
    """

    http_status: int = 500
    code: str = "INTERNAL_ERROR"
    title: str = "Internal error"
    retry_after: int | None = None
    """Seconds after which a retry may succeed (HTTP Retry-After), when known."""

    def __init__(
        self,
        message: str,
        *,
        details: str | None = None,
        suggestions: list[str] | None = None,
        code: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or message
        self.suggestions = suggestions or []
        self.field = field
        if code:
            self.code = code

    def to_dict(self) -> dict[str, Any]:
        """The HTTP/JSON error envelope."""
        body: dict[str, Any] = {
            "success": False,
            "error": self.title,
            "details": self.details,
            "code": self.code,
            "suggestions": self.suggestions,
        }
        if self.field:
            body["field"] = self.field
        return body


class ConfigError(ApsaraError):
    """A setting is missing or invalid; the message names the variable.

    503 over HTTP: the server's own configuration is never the client's fault.
    """

    http_status, code, title = 503, "CONFIG_ERROR", "Configuration error"


class GoogleSignInNotConfiguredError(ConfigError):
    """Google sign-in was asked for, but GOOGLE_CLIENT_ID is not set on the server."""

    http_status, code, title = 503, "GOOGLE_SIGNIN_NOT_CONFIGURED", "Google sign-in not configured"


class ValidationError(ApsaraError):
    """Input was malformed; `field` names the input at fault."""

    http_status, code, title = 400, "VALIDATION_ERROR", "Invalid input"


class NotFoundError(ApsaraError):
    """The thing does not exist, or belongs to someone else (never told apart)."""

    http_status, code, title = 404, "NOT_FOUND", "Not found"


class ConflictError(ApsaraError):
    """The change clashes with what is stored (duplicate, wrong state)."""

    http_status, code, title = 409, "CONFLICT", "Conflict"


class AuthenticationError(ApsaraError):
    """Credentials or token missing, wrong, expired or revoked."""

    http_status, code, title = 401, "AUTHENTICATION_FAILED", "Authentication failed"


class PermissionDeniedError(ApsaraError):
    """Authenticated, but the role or plan does not allow this."""

    http_status, code, title = 403, "FORBIDDEN", "Forbidden"


class AccountLockedError(AuthenticationError):
    """Too many failed logins; locked for up to 15 minutes (Retry-After over HTTP)."""

    http_status, code, title = 423, "ACCOUNT_LOCKED", "Account locked"
    retry_after = 15 * 60


class RateLimitError(ApsaraError):
    """A quota or request limit was reached; carries usage and the reset time."""

    http_status, code, title = 429, "RATE_LIMIT_EXCEEDED", "Rate limit exceeded"

    def __init__(
        self,
        message: str,
        *,
        reset_time: datetime | None = None,
        usage_info: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.reset_time = reset_time
        self.usage_info = usage_info or {}

    def to_dict(self) -> dict[str, Any]:
        body = super().to_dict()
        body["usageInfo"] = self.usage_info
        if self.reset_time is not None:
            body["resetTime"] = self.reset_time.strftime("%Y-%m-%dT%H:%M:%SZ")
        return body


class UnsupportedMediaTypeError(ApsaraError):
    """The body's Content-Type is not the one the endpoint reads (JSON, multipart)."""

    http_status, code, title = 415, "UNSUPPORTED_MEDIA_TYPE", "Unsupported media type"


class PayloadTooLargeError(ApsaraError):
    """An upload or text is over its size limit."""

    http_status, code, title = 413, "PAYLOAD_TOO_LARGE", "Payload too large"


class DatabaseUnavailableError(ApsaraError):
    """The database cannot be reached or started."""

    http_status, code, title = 503, "DATABASE_UNAVAILABLE", "Database unavailable"


class ProviderError(ApsaraError):
    """The AI provider failed; subclasses say how."""

    http_status, code, title = 502, "PROVIDER_ERROR", "AI provider error"


class ProviderUnavailableError(ProviderError):
    """The provider answered 5xx or could not be reached, after retries."""

    http_status, code, title = 503, "PROVIDER_UNAVAILABLE", "AI provider unavailable"


class ProviderRateLimitedError(ProviderError):
    """The provider itself refused with 429, after retries."""

    http_status, code, title = 429, "PROVIDER_RATE_LIMITED", "AI provider rate limited"
    retry_after = 10

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "usageInfo": {"scope": "provider", "retryAfter": 10}}


class ProviderBlockedError(ProviderError):
    """The provider blocked the prompt or reply (safety)."""

    http_status, code, title = 422, "PROVIDER_BLOCKED", "Blocked by the AI provider"


class ProviderBadRequestError(ProviderError):
    """The provider rejected the request (400/404, a file the caller may not use); not retried."""

    http_status, code, title = 400, "PROVIDER_BAD_REQUEST", "AI provider rejected the request"


class ProviderAuthError(ProviderError):
    """The provider refused our credentials or permissions (401/403, invalid key); not retried.

    502: the server's key or project is at fault, not the client's request.
    """

    http_status, code, title = (
        502,
        "PROVIDER_AUTH_FAILED",
        "AI provider refused the server's credentials",
    )


class NoApiKeyError(ProviderError):
    """No API key is configured for the provider."""

    http_status, code, title = 503, "NO_API_KEY", "No AI API key configured"


class InterruptedReplyError(ApsaraError):
    """A model reply broke off after some of it was delivered; the partial reply is stored
    (metadata.status "interrupted") and its quota unit kept, so the error carries it.

    Status, code and message are the cause's; `partial` holds text, thoughts, modelMessageId,
    userMessageId, conversationId, usageMetadata and status "interrupted".
    """

    def __init__(self, cause: ApsaraError, partial: dict[str, Any]) -> None:
        super().__init__(
            cause.message,
            details=cause.details,
            code=cause.code,
            suggestions=[
                *cause.suggestions,
                "The partial reply is kept (status interrupted); "
                "regenerate it to get a complete one",
            ],
        )
        self.http_status, self.title, self.cause = cause.http_status, cause.title, cause
        self.partial = {**partial, "status": "interrupted"}

    def to_dict(self) -> dict[str, Any]:
        return {**self.cause.to_dict(), **self.partial, "suggestions": self.suggestions}


class PluginError(ApsaraError):
    """A plugin raised, returned something unusable (not JSON, too large), or was cancelled."""

    http_status, code, title = 502, "PLUGIN_FAILED", "Plugin failed"


class PluginTimeoutError(PluginError):
    """A plugin ran past its timeout."""

    http_status, code, title = 504, "PLUGIN_TIMEOUT", "Plugin timed out"


class PluginCallError(ApsaraError):
    """A plugin call failed after its tool message (status "failed") was stored.

    Status, code and message are the cause's; the envelope adds toolMessageId and
    conversationId so the stored call can be found.
    """

    def __init__(self, cause: ApsaraError, stored: dict[str, Any]) -> None:
        super().__init__(
            cause.message,
            details=cause.details,
            code=cause.code,
            field=cause.field,
            suggestions=cause.suggestions,
        )
        self.http_status, self.title, self.cause = cause.http_status, cause.title, cause
        self.stored = stored

    def to_dict(self) -> dict[str, Any]:
        return {**self.cause.to_dict(), **self.stored}
