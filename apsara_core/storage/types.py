"""The supported file types: MIME type, size limit, allowed storage methods; and detection.

The type of an upload comes from its content, never from its name alone: binary formats by
their magic bytes (the `filetype` library), text by being valid UTF-8 without NUL bytes (its
subtype then from the extension, as text has no magic). A name whose extension names another
type than the content (HTML named `.png`) is refused.

Library choice (measured on tests/file_samples.py, 2 cores): `filetype` 1.2 identified all 12
binary samples (after mapping its `audio/x-wav` and `audio/x-flac` aliases) in 0.01–0.09 ms on
a 1 MiB head; `puremagic` 1.30 identified 11 (missed MP3) in 0.5–0.9 ms. Neither detects the
text types, which are sniffed here.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

import filetype

from apsara_core.errors import ValidationError

Kind = Literal["image", "document", "text", "audio", "video"]
LOCAL, S3, GOOGLE = "local", "s3", "google-file-api"
METHODS = (LOCAL, S3, GOOGLE)
ALL, STORE_ONLY = METHODS, (LOCAL, S3)
MB = 1024 * 1024
HEAD_BYTES = 8192  # enough for every signature in the table, and for the text sniff


@dataclass(frozen=True)
class FileType:
    """One supported type: its MIME type, family, extensions, size limit and methods."""

    mime: str
    kind: Kind
    extensions: tuple[str, ...]
    max_bytes: int
    methods: tuple[str, ...] = ALL

    @property
    def ai_ready(self) -> bool:
        """Whether Gemini can read it (the File API accepts it)."""
        return GOOGLE in self.methods

    def to_dict(self) -> dict[str, object]:
        """The table row as `apsara file types --json` and the API show it."""
        return {
            "mimeType": self.mime,
            "kind": self.kind,
            "extensions": list(self.extensions),
            "maxBytes": self.max_bytes,
            "maxSize": human_size(self.max_bytes),
            "methods": list(self.methods),
            "aiReady": self.ai_ready,
        }


# Limits follow what Gemini accepts (File API: 2 GB per file). GIF is kept for storage, but
# Gemini does not read it, so it cannot go to the File API.
TYPES: tuple[FileType, ...] = (
    FileType("image/png", "image", (".png",), 20 * MB),
    FileType("image/jpeg", "image", (".jpg", ".jpeg"), 20 * MB),
    FileType("image/webp", "image", (".webp",), 20 * MB),
    FileType("image/gif", "image", (".gif",), 20 * MB, STORE_ONLY),
    FileType("application/pdf", "document", (".pdf",), 50 * MB),
    FileType("text/plain", "text", (".txt", ".log", ".text"), 10 * MB),
    FileType("text/markdown", "text", (".md", ".markdown"), 10 * MB),
    FileType("text/csv", "text", (".csv",), 10 * MB),
    FileType("application/json", "text", (".json",), 10 * MB),
    FileType("text/x-python", "text", (".py",), 10 * MB),
    FileType("text/javascript", "text", (".js", ".mjs"), 10 * MB),
    FileType("text/x-typescript", "text", (".ts",), 10 * MB),
    FileType("audio/mpeg", "audio", (".mp3",), 200 * MB),
    FileType("audio/wav", "audio", (".wav",), 200 * MB),
    FileType("audio/ogg", "audio", (".ogg", ".oga"), 200 * MB),
    FileType("audio/flac", "audio", (".flac",), 200 * MB),
    FileType("video/mp4", "video", (".mp4", ".m4v"), 2048 * MB),
    FileType("video/webm", "video", (".webm",), 2048 * MB),
    FileType("video/quicktime", "video", (".mov",), 2048 * MB),
)
BY_MIME = {t.mime: t for t in TYPES}
BY_EXTENSION = {ext: t for t in TYPES for ext in t.extensions}
MAX_BYTES = max(t.max_bytes for t in TYPES)
ALIASES = {
    "audio/x-wav": "audio/wav",
    "audio/wave": "audio/wav",
    "audio/x-flac": "audio/flac",
    "audio/mp3": "audio/mpeg",
    "image/jpg": "image/jpeg",
    "application/x-javascript": "text/javascript",
    "application/javascript": "text/javascript",
}
# WHATWG's HTML sniffing patterns: text opening with one of these is a web page.
_HTML_OPENERS = (
    "<!doctype html",
    "<html",
    "<head",
    "<script",
    "<iframe",
    "<h1",
    "<div",
    "<font",
    "<table",
    "<a",
    "<style",
    "<title",
    "<b",
    "<body",
    "<br",
    "<p",
    "<!--",
    "<svg",
    "<?xml",
)


def human_size(size: int) -> str:
    """12 MB, 340 KB, 17 bytes."""
    if size >= MB:
        return f"{size / MB:.0f} MB" if size >= 10 * MB else f"{size / MB:.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size} bytes"


def table() -> list[dict[str, object]]:
    """Every supported type as a row."""
    return [t.to_dict() for t in TYPES]


def extension_of(name: str) -> str:
    """The lowercased last suffix of a name ("" when it has none)."""
    return PurePosixPath(name).suffix.lower()


def _canonical(mime: str | None) -> str | None:
    return ALIASES.get(mime, mime) if mime else None


def sniff(head: bytes) -> str | None:
    """The MIME type the first bytes of a file show (None: unrecognised binary).

    Text (UTF-8 without NUL) gives "text/*": the caller picks its subtype from the name.
    """
    kind = filetype.guess(head)
    if kind is not None:
        return _canonical(kind.mime)
    if b"\x00" in head:
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut at the end of the head
            return None
        text = head[: exc.start].decode("utf-8")
    opening = text.lstrip("\ufeff \t\r\n").lower()
    if any(
        opening.startswith(tag) and opening[len(tag) : len(tag) + 1] in (" ", ">", "")
        for tag in _HTML_OPENERS
    ):
        return "text/html"
    return "text/*"


def _named_type(name: str) -> str | None:
    """The type a name's extension announces: ours, or the system's table."""
    ext = extension_of(name)
    if not ext:
        return None
    if ext in BY_EXTENSION:
        return BY_EXTENSION[ext].mime
    return _canonical(mimetypes.guess_type("x" + ext)[0])


def detect(head: bytes, name: str, field: str) -> FileType:
    """The supported type of a file from its first bytes, checked against its name.

    Raises:
        ValidationError: empty content, an unsupported or unrecognised type, or an extension
            that names another type than the content (all naming `field`).
    """
    if not head:
        raise ValidationError(f"{field} ({name!r}) is empty", field=field)
    seen, named = sniff(head), _named_type(name)
    if seen == "text/*":
        seen = named if named in BY_MIME and BY_MIME[named].kind == "text" else "text/plain"
        if named is not None and named != seen:
            raise _mismatch(name, "text", named, field)
    elif named is not None and seen is not None and named != seen:
        raise _mismatch(name, seen, named, field)
    if seen not in BY_MIME:
        shown = seen or "unrecognised binary data"
        raise ValidationError(
            f"{field} ({name!r}) is {shown}, which is not a supported type",
            field=field,
            suggestions=["See the supported types with `apsara file types`"],
        )
    return BY_MIME[seen]


def _mismatch(name: str, seen: str, named: str, field: str) -> ValidationError:
    return ValidationError(
        f"{field} ({name!r}) is named as {named} but its content is {seen}",
        field=field,
        suggestions=["Give the file the extension of what it really is"],
    )
