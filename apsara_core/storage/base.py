"""The backend protocol and the set of configured backends.

Every backend places a staged file (a complete file on local disk, see `staging`), deletes an
object by its stored location, and opens one for reading; none holds a whole file in memory.
A location is the small dict stored on the file's record: local `{"path"}` (relative to the
upload root), s3 `{"bucket", "key"}`, google-file-api the File API resource `{"name", "uri",
"state", "expiresAt", "mimeType"}`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from apsara_core.errors import ApsaraError, ConfigError, ValidationError
from apsara_core.storage.types import GOOGLE, METHODS, S3


@dataclass(frozen=True)
class PutRequest:
    """What a backend needs to place one staged file."""

    staged: Path
    owner: str
    name: str  # the generated object name (file id + canonical extension)
    mime: str
    size: int
    display_name: str


class Backend(Protocol):
    """One storage method."""

    method: str

    async def put(self, request: PutRequest) -> dict[str, Any]:
        """Store the staged file; its location. The staged file is left for the caller."""
        ...

    async def delete(self, location: dict[str, Any]) -> bool:
        """Remove the object; False when it was already gone."""
        ...

    async def open(self, location: dict[str, Any]) -> BinaryIO:
        """A blocking binary reader of the object (read it in a worker thread).

        Raises:
            NotFoundError: the object is gone.
        """
        ...


class StorageNotConfiguredError(ConfigError):
    """A storage method was asked for that this server does not offer.

    400 over HTTP, unlike other configuration errors: the client chose the method, and
    GET /api/files/supported-types says which ones this server offers.
    """

    http_status = 400
    code, title = "STORAGE_NOT_CONFIGURED", "Storage method not configured"


def check_method(value: Any, field: str = "storageMethod", *, allow_auto: bool = True) -> str:
    """A storage method name ("auto" too when `allow_auto`).

    Raises:
        ValidationError: an unknown method, naming the accepted ones.
    """
    allowed = ("auto", *METHODS) if allow_auto else METHODS
    if not isinstance(value, str) or value not in allowed:
        raise ValidationError(
            f"{field} must be one of {', '.join(allowed)}; got {value!r}", field=field
        )
    return value


class StorageSet:
    """The configured backends by method: local always; s3 with S3_BUCKET; the File API
    with a Gemini key."""

    def __init__(self, backends: dict[str, Backend], *, missing: dict[str, str]) -> None:
        self._backends = backends
        self._missing = missing  # method -> the settings that would enable it

    def available(self, method: str) -> bool:
        """Whether `method` is configured."""
        return method in self._backends

    def get(self, method: str, field: str = "storageMethod") -> Backend:
        """The backend of `method`.

        Raises:
            StorageNotConfiguredError: the method needs settings that are not set.
        """
        if method not in self._backends:
            what = "S3" if method == S3 else "the Gemini File API" if method == GOOGLE else method
            raise StorageNotConfiguredError(
                f"{method} storage is not configured on this server: set {self._missing[method]}",
                field=field,
                suggestions=[
                    f"See 'Running against real services' in the README to set up {what}",
                    "Or choose storageMethod local (or auto)",
                ],
            )
        return self._backends[method]


class StorageUnavailableError(ApsaraError):
    """A storage backend failed or could not be reached (S3 down, wrong credentials)."""

    http_status, code, title = 503, "STORAGE_UNAVAILABLE", "File storage unavailable"


class SizedReader(io.RawIOBase):
    """A forward-only reader of `size` bytes with the `tell`/`seek` a resumable upload asks
    for (the Gemini SDK seeks to the end once to learn the size, then back)."""

    def __init__(self, body: Any, size: int) -> None:
        super().__init__()
        self._body, self._size, self._pos, self._probe = body, size, 0, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._probe

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._probe = self._size if whence == io.SEEK_END else offset
        if whence == io.SEEK_SET and offset != self._pos:
            raise io.UnsupportedOperation("SizedReader only reads forward")
        return self._probe

    def read(self, n: int = -1) -> bytes:
        data = self._body.read(n if n is not None and n >= 0 else None)
        self._pos += len(data)
        self._probe = self._pos
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        closer = getattr(self._body, "close", None)
        if closer is not None:
            closer()
        super().close()
