"""What the openai and anthropic instances share: one SDK error mapping and one provider base.

Both SDKs are generated from the same template, so their exception trees match (RateLimitError,
AuthenticationError, APIStatusError, APITimeoutError, ...): `map_sdk_error` takes the SDK module.
`SdkInstance` holds an instance's config, settings and lazily built client, and relays a stream
of SDK events as chunks under the idle timeout. No SDK is imported here.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Awaitable, Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import httpx
import httpx2

from apsara_core.errors import (
    ProviderAuthError,
    ProviderBadRequestError,
    ProviderError,
    ProviderRateLimitedError,
    ProviderUnavailableError,
)
from apsara_core.providers.base import ProviderChunk, ProviderRequest
from apsara_core.providers.instances import InstanceConfig, close_quietly, history_budget, next_item

if TYPE_CHECKING:
    from apsara_core.config import Settings

T = TypeVar("T")


class _Closable(Protocol):
    async def close(self) -> None: ...


C = TypeVar("C", bound=_Closable)
Starter = Callable[[], Awaitable[Any]]
Converter = Callable[[Any], list[ProviderChunk]]


def map_sdk_error(
    exc: BaseException,
    label: str,
    sdk: ModuleType,
    *,
    rate_limited: bool = False,
    busy: bool = False,
    status_note: str = "",
) -> ProviderError | None:
    """The ProviderError for an openai/anthropic SDK or transport failure (None when not one).

    `rate_limited` and `busy` mark an error body the SDK's classes do not tell apart;
    `status_note` follows the status code in the message of a 5xx (or busy) failure.
    """
    if isinstance(exc, ProviderError):
        return exc
    err: Any = exc  # the SDK's classes are only known at run time
    if isinstance(err, sdk.RateLimitError) or rate_limited:
        wait = err.response.headers.get("retry-after")
        return ProviderRateLimitedError(
            f"{label} is rate limiting requests (429): {err.message}",
            details=f"Retry-After: {wait} s" if wait else err.message,
            suggestions=[f"Wait {wait} s and try again" if wait else "Wait and try again"],
        )
    if isinstance(err, (sdk.AuthenticationError, sdk.PermissionDeniedError)):
        return ProviderAuthError(
            f"{label} refused the server's API key ({err.status_code}): {err.message}",
            suggestions=["The operator must check the key variable of this provider"],
        )
    if isinstance(err, sdk.APIStatusError):
        if err.status_code >= 500 or busy:
            return ProviderUnavailableError(
                f"{label} failed ({err.status_code}{status_note}): {err.message}",
                suggestions=["Try again in a moment"],
            )
        return ProviderBadRequestError(
            f"{label} rejected the request ({err.status_code}): {err.message}"
        )
    if isinstance(err, sdk.APITimeoutError):
        return ProviderUnavailableError(f"{label} timed out", suggestions=["Try again"])
    if isinstance(err, sdk.APIConnectionError):
        return ProviderUnavailableError(
            f"{label} could not be reached or cut the connection: {exc.__cause__ or exc}"
        )
    if isinstance(err, (httpx.TransportError, httpx2.TransportError, json.JSONDecodeError)):
        return ProviderUnavailableError(f"{label} cut the connection: {type(exc).__name__}: {exc}")
    return None


class SdkInstance(Generic[C]):
    """A declared instance served through an SDK client `C` (`NAME/MODEL` ids)."""

    def __init__(self, config: InstanceConfig, settings: Settings) -> None:
        self.config = config
        self.name = config.name
        self.settings = settings
        self._sdk: C | None = None
        self.label = f"Provider {config.name}"

    def models(self) -> list[str]:
        """Generation models served (`NAME/MODEL`)."""
        return [f"{self.name}/{m.name}" for m in self.config.models if not m.embedding]

    def thinks(self, model: str) -> bool:
        """As declared for the model."""
        return self.config.spec(model).thinks

    def token_budget(self, model: str) -> int:
        """History budget from the model's context window."""
        return history_budget(
            self.config.spec(model).context_window, self.settings.history_token_budget
        )

    def check_ready(self) -> None:
        """Raise NoApiKeyError when the declared key is missing."""
        self.client()

    def client(self) -> C:
        """The SDK client (built once)."""
        raise NotImplementedError

    def _client_options(self) -> dict[str, Any]:
        """The SDK client's keyword arguments other than the key: base URL, retries, timeout."""
        return {
            "base_url": self.config.base_url,
            "max_retries": self.settings.gemini_retries - 1,
            "timeout": self.settings.gemini_timeout_s,
        }

    def _open(self, client: C, request: ProviderRequest) -> tuple[Starter, Converter]:
        """The call that opens the SDK stream of a request, and the event converter."""
        raise NotImplementedError

    async def stream(self, request: ProviderRequest) -> AsyncGenerator[ProviderChunk, None]:
        """Stream the answer; the HTTP response is closed on any exit.

        Raises:
            NoApiKeyError, ProviderRateLimitedError, ProviderUnavailableError,
            ProviderBadRequestError, ProviderAuthError, ProviderBlockedError.
        """
        start, convert = self._open(self.client(), request)
        sdk_stream = await self._call(start)
        async for chunk in self._relay(sdk_stream, convert):
            yield chunk

    async def aclose(self) -> None:
        """Close the SDK client's connection pool (Core.close)."""
        if self._sdk is not None:
            sdk, self._sdk = self._sdk, None
            await sdk.close()

    def _map(self, exc: BaseException) -> ProviderError | None:
        raise NotImplementedError

    async def _call(self, start: Callable[[], Awaitable[T]]) -> T:
        """Await one SDK call, its failure mapped to the ProviderError family."""
        try:
            return await start()
        except Exception as exc:
            raise (self._map(exc) or exc) from exc

    async def _relay(
        self, sdk_stream: Any, convert: Converter
    ) -> AsyncGenerator[ProviderChunk, None]:
        """The chunks of an SDK event stream, each event awaited under the idle timeout; a
        stream that ends without a finish reason is an error; the stream is closed on any exit."""
        finished, idle = False, self.settings.gemini_idle_timeout_s
        try:
            iterator = sdk_stream.__aiter__()
            while (
                event := await next_item(iterator, idle=idle, label=self.label, map_error=self._map)
            ) is not None:
                for chunk in convert(event):
                    finished = finished or bool(chunk.finish_reason)
                    yield chunk
            if not finished:
                raise ProviderUnavailableError(
                    f"{self.label}'s stream ended before the reply was finished"
                )
        finally:
            await close_quietly(sdk_stream)
