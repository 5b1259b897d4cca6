"""`python -m tests.benchmarks [NAME ...]`: run the benchmarks and print their results."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = [
    "startup",
    "tui",
    "tui_stream",
    "limits",
    "chat",
    "providers",
    "auth",
    "files",
    "plugins",
    "http",
    "scale",
    "cli",
    "warm",
    "soak",
    "messages",
]


def main(names: list[str]) -> int:
    """Run the named benchmarks (all by default); exit 1 when a goal is missed."""
    missed = 0
    for name in names or BENCHMARKS:
        module = importlib.import_module(f"tests.benchmarks.bench_{name}")
        for result in module.run():
            print(result.line(), flush=True)
            missed += result.ok is False
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
