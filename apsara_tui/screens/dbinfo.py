"""Action 11: schema and database info."""

from __future__ import annotations

from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Static

from apsara_tui.screens.base import CoreScreen


class DatabaseInfoScreen(CoreScreen):
    """The server, schema version and each collection with its count and indexes."""

    BINDINGS = [Binding("r", "refresh", "Refresh")]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Loading…", id="summary")
        table: DataTable[str] = DataTable(id="collections", cursor_type="row", zebra_stripes=True)
        table.add_columns("collection", "documents", "indexes")
        yield table
        yield Footer()

    def on_mount(self) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        """Reload from the database."""
        self._load()

    @work(exclusive=True)
    async def _load(self) -> None:
        data = await self.call_as(lambda me: self.core.dbinfo.info(actor=me))
        if data is not None:
            self.show(data)

    def show(self, data: dict[str, Any]) -> None:
        """Fill the summary and the table."""
        server = data["server"]
        kind = "" if server["embedded"] else "MongoDB "
        self.query_one("#summary", Static).update(
            f"[b]{server['database']}[/] on {kind}{server['address']} · "
            f"schema version {data['schemaVersion']} · {len(data['collections'])} collections"
        )
        table = self.query_one(DataTable)
        table.clear()
        for coll in data["collections"]:
            indexes = ", ".join(
                "+".join(coll_idx["keys"]) + (" (unique)" if coll_idx["unique"] else "")
                for coll_idx in coll["indexes"]
                if coll_idx["name"] != "_id_"
            )
            table.add_row(
                coll["name"],
                "not counted" if coll["documents"] is None else str(coll["documents"]),
                indexes or "—",
                key=coll["name"],
            )
