"""The one JSON encoding of core data, for HTTP, the CLI's `--json` and exports.

Datetimes become ISO 8601 UTC with a `Z` (`2026-12-01T20:52:45.123000Z`), ObjectIds and other
values their string, recursively; everything else stays as JSON has it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any


def jsonable(value: Any) -> Any:
    """`value` with every datetime and non-JSON value turned into a string, recursively."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def dumps(value: Any, *, indent: int | None = 2) -> str:
    """One JSON document of `value` (UTF-8 text kept as is, not escaped)."""
    return json.dumps(jsonable(value), indent=indent, ensure_ascii=False)
