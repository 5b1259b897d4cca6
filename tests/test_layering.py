"""Front ends go through the core's services: none imports a module of apsara_core.repos."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FRONT_ENDS = [ROOT / "apsara_tui", ROOT / "apsara_core" / "http"]


def repo_imports(path: Path) -> list[str]:
    """The `apsara_core.repos` imports of one module, as `line: module`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        found += [
            f"{node.lineno}: {name}"
            for name in names
            if name == "apsara_core.repos" or name.startswith("apsara_core.repos.")
        ]
    return found


@pytest.mark.parametrize(
    "path",
    sorted(p for root in FRONT_ENDS for p in root.rglob("*.py")),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_front_end_module_imports_no_repo(path: Path) -> None:
    assert repo_imports(path) == [], (
        f"{path.relative_to(ROOT)} reaches the repos; go through a service"
    )


def test_the_check_sees_every_import_form(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "import apsara_core.repos.users\nfrom apsara_core import repos\n"
        "from apsara_core.repos.users import find_by_id\n"
        "def f():\n    from apsara_core.repos import conversations\n"
    )
    assert len({line.split(":")[0] for line in repo_imports(module)}) == 4
