"""The plans seeded on first use (the spec's table) and the stored-file limits of plans: the
defaults per plan name and the byte-size parser."""

from __future__ import annotations

import re
from typing import Any

from apsara_core.errors import ValidationError
from apsara_core.vocabulary import DEFAULT_EMBEDDING_MODEL, DEFAULT_MODEL, PRO_MODEL

MB = 1024 * 1024
# Stored files per user: guests none (they sign up first), free 20 / 100 MB, premium 500 / 5 GB.
FILE_LIMITS = {
    "guest": {"maxFiles": 0, "maxBytes": 0},
    "free": {"maxFiles": 20, "maxBytes": 100 * MB},
    "premium": {"maxFiles": 500, "maxBytes": 5 * 1024 * MB},
}


FLASH, PRO, EMBED = DEFAULT_MODEL, PRO_MODEL, DEFAULT_EMBEDDING_MODEL


def limit_entry(daily: int | None = None, total: int | None = None) -> dict[str, int | None]:
    """A plan's limit entry for a model: {daily, total}, one of them None."""
    return {"daily": daily, "total": total}


SEED_PLANS: list[dict[str, Any]] = [
    {
        "name": "guest",
        "features": ["Trial access", "24h session"],
        "models": {FLASH: limit_entry(total=5)},
        "files": FILE_LIMITS["guest"],
    },
    {
        "name": "free",
        "features": ["Full features", "Daily reset"],
        "models": {
            FLASH: limit_entry(daily=20),
            PRO: limit_entry(daily=5),
            EMBED: limit_entry(daily=100),
        },
        "files": FILE_LIMITS["free"],
    },
    {
        "name": "premium",
        "features": ["Priority support", "Analytics"],
        "models": {
            FLASH: limit_entry(daily=100),
            PRO: limit_entry(daily=50),
            EMBED: limit_entry(daily=1000),
        },
        "files": FILE_LIMITS["premium"],
    },
]
KNOWN_MODELS = frozenset({FLASH, PRO, EMBED})


def file_limits_of(doc: dict[str, Any]) -> dict[str, int]:
    """A plan's file limits {maxFiles, maxBytes}: stored, else the default of its name (plans
    stored before file limits existed have none), else none allowed."""
    default = FILE_LIMITS.get(doc["name"], {"maxFiles": 0, "maxBytes": 0})
    return {**default, **(doc.get("files") or {})}


_BYTE_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_BYTE_UNITS |= {"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}


def parse_limit_bytes(value: Any, field: str) -> int:
    """A byte count from 0 to 1 PiB: an int, a string of digits, or a size such as "100MB" or
    "5 GiB" (decimal KB/MB/GB/TB, binary KiB/MiB/GiB/TiB).

    Raises:
        ValidationError: not such a number.
    """
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", value)
        if match and match[2].lower() in _BYTE_UNITS:
            value = int(match[1]) * _BYTE_UNITS[match[2].lower()]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1 << 50:
        raise ValidationError(
            f"{field} must be a whole number of bytes from 0 to {1 << 50} (or a size such as "
            f"100MB or 5GiB), got {value!r}",
            field=field,
        )
    return value
