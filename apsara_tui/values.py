"""What a typed-in value means, alike for the commands and the screens (no Textual import)."""

from __future__ import annotations

import json
from typing import Any


def read_value(text: str) -> Any:
    """JSON when it parses (15, true, [1,2], {"a":1}), else the text itself (NaN stays text)."""

    def refuse(name: str) -> Any:
        raise ValueError(name)

    try:
        return json.loads(text, parse_constant=refuse)
    except ValueError:
        return text
