"""The app's conventions, checked over every screen and widget class (no app run needed).

- CSS: DEFAULT_CSS only on reusable widgets (apsara_tui/widgets), the rest in app.tcss; every
  package-data pattern ships a file.
- Bindings: `escape` is declared once (CoreScreen); tables share one key map; an F-key means
  one thing across the app.
- Preconditions: declared as `NEEDS`, never checked by the screens themselves.
- Messages are dataclasses.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import tomllib
from pathlib import Path

from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen

import apsara_tui.screens
import apsara_tui.widgets
from apsara_tui.screens.base import CoreScreen
from apsara_tui.screens.conversations import ConversationTableScreen
from apsara_tui.screens.users import ChooseUserScreen, UserListScreen

ROOT = Path(__file__).resolve().parents[2]


def classes_of(package) -> list[type]:
    found: list[type] = []
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        found += [
            c
            for _, c in inspect.getmembers(module, inspect.isclass)
            if c.__module__ == module.__name__
        ]
    return found


def own_bindings(cls: type) -> list[Binding]:
    return [b if isinstance(b, Binding) else Binding(*b) for b in cls.__dict__.get("BINDINGS", [])]


def keys(binding: Binding) -> list[str]:
    return [k.strip() for k in binding.key.split(",")]


SCREENS = classes_of(apsara_tui.screens)
WIDGETS = classes_of(apsara_tui.widgets)


def test_css_lives_in_app_tcss_or_on_reusable_widgets() -> None:
    assert [c.__name__ for c in SCREENS if "DEFAULT_CSS" in c.__dict__] == []
    assert (ROOT / "apsara_tui" / "app.tcss").is_file()


def test_every_shipped_data_pattern_matches_a_file() -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]
    for package, patterns in data.items():
        for pattern in patterns:
            assert list((ROOT / package).glob(pattern)), f"{package}/{pattern} matches no file"


def test_escape_is_declared_once_for_every_action_screen() -> None:
    redeclared = [
        c.__name__
        for c in SCREENS
        if issubclass(c, CoreScreen)
        and c is not CoreScreen
        and any("escape" in keys(b) for b in own_bindings(c))
    ]
    assert redeclared == []
    assert any(
        b.action == "app.pop_screen" for b in own_bindings(CoreScreen) if "escape" in keys(b)
    )


def test_user_and_conversation_tables_share_one_key_map() -> None:
    def table_keys(cls: type[Screen]) -> dict[str, str]:
        merged = cls._merge_bindings().key_to_bindings
        return {
            k: merged[k][0].action
            for k in ("slash", "left_square_bracket", "right_square_bracket", "pageup", "pagedown")
        }

    expected = {
        "slash": "search",
        "left_square_bracket": "page(-1)",
        "right_square_bracket": "page(1)",
        "pageup": "page(-1)",
        "pagedown": "page(1)",
    }
    for cls in (ConversationTableScreen, UserListScreen, ChooseUserScreen):
        assert table_keys(cls) == expected, cls.__name__


def test_an_f_key_means_one_thing_across_the_app() -> None:
    meanings: dict[str, set[str]] = {}
    for cls in SCREENS + WIDGETS:
        for binding in own_bindings(cls):
            for key in keys(binding):
                if key.startswith("f") and key[1:].isdigit():
                    meanings.setdefault(key, set()).add(binding.description)
    assert {k: v for k, v in meanings.items() if len(v) > 1} == {}


def test_no_screen_guards_its_own_preconditions() -> None:
    for path in (ROOT / "apsara_tui" / "screens").glob("*.py"):
        text = path.read_text()
        assert "missing()" not in text and "NEEDS_" not in text, path.name


def test_messages_are_dataclasses() -> None:
    messages = [
        m
        for c in WIDGETS
        for _, m in inspect.getmembers(c, inspect.isclass)
        if issubclass(m, Message) and m.__module__ == c.__module__
    ]
    assert {m.__qualname__ for m in messages} >= {
        "ChatInput.Submitted",
        "Form.Submitted",
        "UserBrowser.QueryChanged",
        "UserBrowser.Picked",
        "ChatLog.OlderWanted",
        "ChatLog.WindowShown",
    }
    assert [m.__qualname__ for m in messages if not dataclasses.is_dataclass(m)] == []
