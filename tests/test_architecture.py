"""The import picture of apsara_core: no cycle, type-checking and function-level imports included.

A cycle hidden under `if TYPE_CHECKING:` is still a cycle of knowledge: it is how the services
used to reach the whole `Core`. The graph is read from the source with `ast`, so nothing is
imported and every import counts, wherever it sits in a module.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "apsara_core"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE


def module_name(path: Path) -> str:
    """`apsara_core/services/chat.py` -> `apsara_core.services.chat` (a package: its name)."""
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name."""
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _absolute(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    """The module a `from X import ...` names, relative imports resolved."""
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_in(source: str, name: str, known: set[str], *, is_package: bool = False) -> set[str]:
    """The package's modules that module `name` imports anywhere in `source`.

    `from pkg import thing` counts as an import of `pkg.thing` when that is a module, else of
    `pkg` itself (its `__init__` runs and hands out `thing`).
    """
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(node, name, is_package)
            for alias in node.names:
                found.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in known else target)
    return {m for m in found if m in known and m != name}


def import_graph() -> dict[str, set[str]]:
    """module -> the package modules it imports."""
    found = modules()
    return {
        name: imports_in(
            path.read_text(encoding="utf-8"),
            name,
            set(found),
            is_package=path.name == "__init__.py",
        )
        for name, path in found.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path `[a, b, ..., a]`, or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(graph):
        if state.get(start):
            continue
        path, stack = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            step = next(stack[-1], None)
            if step is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(step) == 1:
                return path[path.index(step) :] + [step]
            elif not state.get(step):
                state[step] = 1
                path.append(step)
                stack.append(iter(sorted(graph[step])))
    return None


def test_the_graph_sees_every_kind_of_import() -> None:
    """The reader itself: type-checking, function-level and relative imports are edges too."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from apsara_core.core import Core\n"
        "def f():\n    from ..errors import ApsaraError\n    import apsara_core.config\n"
        "from apsara_core.repos import users\nfrom apsara_core.models import Principal\n"
    )
    known = {
        "apsara_core.core",
        "apsara_core.errors",
        "apsara_core.config",
        "apsara_core.repos",
        "apsara_core.repos.users",
        "apsara_core.models",
    }
    assert imports_in(source, "apsara_core.services.probe", known) == known - {"apsara_core.repos"}
    graph = import_graph()
    assert "apsara_core.services.chat" in graph["apsara_core.core"]  # inside a property


def test_a_cycle_is_found_and_printed() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_apsara_core_has_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_only_the_front_ends_know_the_core() -> None:
    """Services, providers, repos and models get their collaborators; only the façade itself
    and the HTTP front end (which holds it) import `apsara_core.core`."""
    leaning = sorted(
        name
        for name, edges in import_graph().items()
        if "apsara_core.core" in edges and not name.startswith("apsara_core.http")
    )
    assert leaning == [], f"these modules import apsara_core.core: {leaning}"


SYSTEM_TIME = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
}


def test_only_the_clock_reads_the_system_time() -> None:
    """Every "now" of the core comes from `Clock`, so a test that sets it moves every rule."""
    readers = []
    for name, path in modules().items():
        if name == "apsara_core.clock":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            func = node.func if isinstance(node, ast.Call) else None
            if (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and (func.value.id, func.attr) in SYSTEM_TIME
            ):
                readers.append(f"{name}:{node.lineno}")
    assert readers == [], f"read the time from the Clock instead: {readers}"
