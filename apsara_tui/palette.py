"""The command palette (ctrl+p) lists the 21 management actions."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from apsara_tui.actions import ACTIONS

if TYPE_CHECKING:
    from apsara_tui.app import ApsaraApp


class ActionsProvider(Provider):
    """Offers every management action; unavailable ones say why."""

    def _entries(self) -> list[tuple[str, str, int]]:
        return [(f"{a.number}. {a.title}", a.unavailable or a.help, a.number) for a in ACTIONS]

    async def discover(self) -> Hits:
        app = cast("ApsaraApp", self.app)
        for label, help_text, number in self._entries():
            yield DiscoveryHit(label, partial(app.open_action, number), help=help_text)

    async def search(self, query: str) -> Hits:
        app = cast("ApsaraApp", self.app)
        matcher = self.matcher(query)
        for label, help_text, number in self._entries():
            score = matcher.match(label)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(label),
                    partial(app.open_action, number),
                    help=help_text,
                )
