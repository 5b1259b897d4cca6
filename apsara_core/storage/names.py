"""Names: what a client called a file is metadata only; objects live under generated names.

`display_name` keeps a readable, harmless form (no directories, no control characters, at
most 255 characters with the extension kept); `original_name` keeps what was sent, with
control characters made visible, for the record.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from pathlib import PurePosixPath

from apsara_core.errors import ValidationError

MAX_DISPLAY = 255
MAX_ORIGINAL = 1024
_FILE_ID = re.compile(r"^file_[0-9a-f]{24}$")
_OWNER = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def new_file_id() -> str:
    """A fresh public file id: file_ and 24 hex digits."""
    return "file_" + secrets.token_hex(12)


def is_file_id(value: object) -> bool:
    """Whether `value` has the shape of a stored file id."""
    return isinstance(value, str) and bool(_FILE_ID.match(value))


def owner_dir(owner: str) -> str:
    """The owner's directory name (user ids are 24 hex digits; anything else is refused).

    Raises:
        ValidationError: an owner id that could not be a directory name.
    """
    if not _OWNER.match(owner):
        raise ValidationError(f"Invalid owner id {owner!r}", field="userId")
    return owner


def _visible(text: str) -> str:
    return "".join("\ufffd" if unicodedata.category(c) in ("Cc", "Cf", "Cs") else c for c in text)


def original_name(raw: str) -> str:
    """The client's name as metadata: control characters replaced, at most 1024 characters."""
    return _visible(raw)[:MAX_ORIGINAL]


def display_name(raw: str) -> str:
    """A harmless name to show: the last path component, control characters dropped, at most
    255 characters (the extension kept); "file" when nothing is left."""
    base = re.split(r"[\\/]", raw)[-1]
    base = "".join(c for c in base if unicodedata.category(c) not in ("Cc", "Cf", "Cs")).strip()
    base = base.lstrip(".") or "file"
    if len(base) > MAX_DISPLAY:
        suffix = PurePosixPath(base).suffix[:16]
        base = base[: MAX_DISPLAY - len(suffix)] + suffix
    return base
