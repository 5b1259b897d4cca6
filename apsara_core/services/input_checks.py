"""Checks every untrusted value passes before its model looks at it: text, numbers, nesting.

Front ends hand user input to the core as plain Python values (a parsed JSON body, CLI
arguments). Three kinds of value break code further on without being wrong in type:

- a lone surrogate (JSON `"\\ud800"`, or a non-UTF-8 command-line argument) cannot be encoded
  as UTF-8, so neither MongoDB nor the provider's HTTP client can send it;
- a non-finite float (`1e400` parses to inf) or an integer past 64 bits (BSON stores at most
  that; `math.isfinite(10**400)` raises OverflowError);
- nesting deeper than any of our inputs needs (recursive validation and encoding).

Each is refused with a ValidationError naming the field at fault (`config.temperature`,
`files[1]`), before anything is written or sent.
"""

from __future__ import annotations

import math
from typing import Any

from apsara_core.errors import ValidationError

MAX_DEPTH = 64
"""Deepest nesting of objects and arrays accepted; our deepest input (config.thinkingConfig)
has 3 levels."""

INT64 = (-(2**63), 2**63 - 1)


def check_unicode(value: str, field: str) -> str:
    """`value` when it encodes as UTF-8 (no lone surrogate).

    Raises:
        ValidationError: naming the field and the position of the first bad character.
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(f"{field} contains an invalid character at position {exc.start} "
                              "(a lone UTF-16 surrogate); send valid Unicode text",
                              field=field) from None
    return value


def _check_number(value: int | float, field: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError(f"{field} must be a finite number", field=field)
    if isinstance(value, int) and not INT64[0] <= value <= INT64[1]:
        raise ValidationError(f"{field} is a number too large to use (at most 2^63 - 1 in size)",
                              field=field)


def _child(path: str, key: object) -> str:
    if isinstance(key, int):
        return f"{path or 'body'}[{key}]"
    return f"{path}.{key}" if path else str(key)


def check_tree(data: Any, path: str = "") -> None:
    """Check every string (keys too), number and nesting level of a JSON-like value.

    Iterative, so a hostile depth cannot exhaust the stack here.

    Raises:
        ValidationError: the first bad value, naming its path (`config.temperature`).
    """
    stack: list[tuple[Any, str, int]] = [(data, path, 0)]
    while stack:
        value, where, depth = stack.pop()
        if isinstance(value, str):
            check_unicode(value, where or "body")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            _check_number(value, where or "body")
        elif isinstance(value, (dict, list, tuple)):
            if depth >= MAX_DEPTH:
                raise ValidationError(f"{where or 'body'} is nested more than {MAX_DEPTH} levels "
                                      "deep", field=where or "body")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str):
                    check_unicode(key, where or "body")
                stack.append((item, _child(where, key), depth + 1))
