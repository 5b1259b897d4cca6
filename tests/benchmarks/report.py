"""A benchmark result and the table printed by `make bench`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Result:
    """One measurement; `ratio` against its baseline is checked against `goal` when set."""

    name: str
    value: float
    unit: str
    ratio: float | None = None
    goal: float | None = None

    @property
    def ok(self) -> bool | None:
        """Whether the goal is met (None when there is no goal)."""
        if self.goal is None or self.ratio is None:
            return None
        return self.ratio <= self.goal

    def line(self) -> str:
        """A printable row."""
        verdict = {None: "", True: "PASS", False: "MISS"}[self.ok]
        ratio = "" if self.ratio is None else f"{self.ratio:.2f}x"
        if self.ratio is not None and self.goal is not None:
            ratio += f" (goal <= {self.goal}x)"
        return f"{self.name:<62} {self.value:>10.2f} {self.unit:<4} {ratio:<24} {verdict}"
