"""The one error formatter: what a notification, an inline line, the app's exit and the CLI show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apsara_core.errors import NotFoundError, RateLimitError, ValidationError
from apsara_tui.errors import describe


def test_an_apsara_error_keeps_title_message_details_and_every_hint() -> None:
    exc = NotFoundError(
        "No conversation 'x'",
        details="Looked in your conversations",
        suggestions=["List them with `apsara conv list`", "Or create one"],
    )
    d = describe(exc)
    assert (d.title, d.message, d.severity) == ("Not found", "No conversation 'x'", "error")
    assert d.hints == ("List them with `apsara conv list`", "Or create one")
    assert d.line() == "Not found: No conversation 'x' → List them with `apsara conv list`"
    assert d.text() == "No conversation 'x'\n→ List them with `apsara conv list`\n→ Or create one"
    assert d.console_lines() == [
        "error: No conversation 'x'",
        "  Looked in your conversations",
        "  → List them with `apsara conv list`",
        "  → Or create one",
    ]


def test_details_that_repeat_the_message_are_not_shown_twice() -> None:
    assert describe(ValidationError("title must be a non-empty string")).console_lines() == [
        "error: title must be a non-empty string"
    ]


def test_a_rate_limit_is_a_warning_naming_its_reset_time() -> None:
    reset = datetime.now(UTC) + timedelta(hours=3, seconds=30)
    d = describe(RateLimitError("Daily limit exceeded.", reset_time=reset))
    assert d.severity == "warning"
    assert d.message == f"Daily limit exceeded. Resets {reset:%Y-%m-%d %H:%M} UTC (in 3h 0m)."


def test_an_unexpected_exception_says_so_without_a_trace() -> None:
    d = describe(KeyError("stats"))
    assert (d.title, d.message, d.hints, d.severity) == (
        "Error",
        "Unexpected error: 'stats'",
        (),
        "error",
    )


def test_the_cli_prints_the_same_pieces(cli) -> None:
    result = cli("conv", "show", "conv_nope")
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "error: No conversation 'conv_nope'"
    assert "  → List conversations with `apsara conv list`" in lines
