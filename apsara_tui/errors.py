"""The one error formatter of the app and the commands: any exception as title, message, hints.

Every place that shows an error renders these pieces: a screen's notification
(`CoreScreen.report`), the line under a reply that failed while streaming, the app's exit
message when the Core cannot open, and the commands' stderr (`commands.runtime.fail`).
No Textual import here: the commands use it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, cast

from apsara_core.errors import ApsaraError, RateLimitError

Severity = Literal["error", "warning"]


def when(moment: datetime) -> str:
    """`2026-11-27 00:00 UTC (in 3h 12m)`."""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    left = int((moment - datetime.now(UTC)).total_seconds())
    hours, minutes = divmod(max(0, left) // 60, 60)
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC (in {hours}h {minutes}m)"


@dataclass(frozen=True)
class Described:
    """An error in the words shown to the user.

    Attributes:
        title: a heading ("Rate limit exceeded").
        message: one sentence saying what went wrong (a rate limit names its reset time).
        details: more context when it says more than the message, else None.
        hints: what the user can do, in order.
        severity: "warning" for limits the user just has to wait out, else "error".
    """

    title: str
    message: str
    details: str | None = None
    hints: tuple[str, ...] = ()
    severity: Severity = "error"

    def line(self) -> str:
        """`Title: message → first hint` (inline, e.g. under a failed reply)."""
        hint = f" → {self.hints[0]}" if self.hints else ""
        return f"{self.title}: {self.message}{hint}"

    def text(self) -> str:
        """The message and one `→ hint` line per hint (a notification's body)."""
        return "\n".join([self.message, *(f"→ {h}" for h in self.hints)])

    def console_lines(self) -> list[str]:
        """`error: message`, then the details and the hints indented (stderr)."""
        lines = [f"error: {self.message}"]
        if self.details:
            lines.append(f"  {self.details}")
        return lines + [f"  → {h}" for h in self.hints]


def describe(exc: BaseException) -> Described:
    """The user-facing description of `exc`; an unexpected exception says so, without a trace."""
    if not isinstance(exc, ApsaraError):
        return Described("Error", f"Unexpected error: {exc}")
    message, severity = exc.message, cast(Severity, "error")
    if isinstance(exc, RateLimitError):
        severity = "warning"
        if exc.reset_time is not None:
            message = f"{message} Resets {when(exc.reset_time)}."
    details = exc.details if exc.details and exc.details != exc.message else None
    return Described(exc.title, message, details, tuple(exc.suggestions), severity)
