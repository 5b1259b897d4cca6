"""No full garbage collection over the app's long-lived objects while a reply streams.

A streamed reply allocates a lot (a response object per chunk, strips per repaint), so the
collector runs often; its full (generation 2) passes walk every object the app holds
(screens, widgets, the core's models: ~200,000) and each takes tens to hundreds of
milliseconds, which the stream and the keys wait behind. While a reply streams, the objects
that existed before it are moved out of the collector's reach (`gc.freeze`); the young ones
are still collected as usual. At its end they are handed back (`gc.unfreeze`), so garbage
among them is collected later as before.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_depth = 0
"""How many streams hold the freeze (only the last one to end lifts it)."""


@contextmanager
def long_lived_frozen() -> Iterator[None]:
    """Keep the collector off the objects that exist now until the block ends."""
    global _depth
    if _depth == 0:
        gc.freeze()
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0:
            gc.unfreeze()
