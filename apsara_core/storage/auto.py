"""`auto`: the storage method for an upload, from its size, the number of files sent together
and the caller's preference, with a one-line reason.

Rules, first match wins (methods the type does not allow, or that are not configured, are
skipped; S3 is never picked without S3_BUCKET):

| preference | rule | method |
|---|---|---|
| processing | the type is one Gemini reads | google-file-api (ready for AI at once, kept 48 h) |
| storage | always | s3, else local (permanent) |
| speed | always | local (no network on the way in) |
| none | over 100 MB, or more than 5 files at once | s3, else local |
| none | otherwise | local (sent to the File API on first AI use) |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from apsara_core.errors import ValidationError
from apsara_core.storage.types import GOOGLE, LOCAL, S3, FileType, human_size

PREFERENCES = ("speed", "processing", "storage")
LARGE_BYTES = 100 * 1024 * 1024
MANY_FILES = 5


@dataclass(frozen=True)
class Choice:
    """A method and why it was chosen."""

    method: str
    reason: str


def check_preference(value: object, field: str = "preference") -> str | None:
    """A preference name, or None.

    Raises:
        ValidationError: not one of speed, processing, storage.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str) or value not in PREFERENCES:
        raise ValidationError(
            f"{field} must be one of {', '.join(PREFERENCES)}; got {value!r}", field=field
        )
    return value


def _label(size: int, kind: FileType) -> str:
    name = kind.mime.split("/")[-1].upper() if kind.kind in ("document", "image") else kind.kind
    return f"{human_size(size)} {name}"


def choose(
    *,
    size: int,
    count: int,
    kind: FileType,
    preference: str | None,
    available: Callable[[str], bool],
) -> Choice:
    """The method for one file of `size` bytes sent with `count - 1` others."""

    def usable(method: str) -> bool:
        return method in kind.methods and available(method)

    label = _label(size, kind)
    durable = S3 if usable(S3) else LOCAL
    where = "S3" if durable == S3 else "local disk (S3 not configured)"
    if preference == "processing":
        if usable(GOOGLE):
            return Choice(GOOGLE, f"{label} for immediate AI use: {GOOGLE}")
        why = "Gemini cannot read this type" if not kind.ai_ready else "no Gemini API key"
        return Choice(durable, f"{label} for AI use, but {why}: {durable}")
    if preference == "storage":
        return Choice(durable, f"{label} for permanent storage: {durable} ({where})")
    if preference == "speed":
        return Choice(LOCAL, f"{label} for the fastest upload: {LOCAL}")
    if size > LARGE_BYTES or count > MANY_FILES:
        why = f"over {human_size(LARGE_BYTES)}" if size > LARGE_BYTES else f"{count} files at once"
        return Choice(durable, f"{label}, {why}: {durable} ({where})")
    return Choice(LOCAL, f"{label}: {LOCAL} (sent to the Gemini File API on first AI use)")
