"""The app's one key map: the same keys do the same thing on every screen.

- Tables (users: actions 9, 10; conversations: 2, 3, 14): `/` searches (Enter in the search
  box goes back to the table), `[` `]` and PgUp PgDn turn pages (PgUp PgDn also from the
  search box), Enter opens or acts on the highlighted row.
- `escape` goes back (declared once, on CoreScreen); `ctrl+s` saves or submits a form;
  `r` refreshes; `ctrl+t` shows or hides the model panel (chat, regenerate).
- `ctrl+c` stops a streaming reply (chat, edit, regenerate; the partial reply is kept, marked
  interrupted); `ctrl+j` adds a line in the message box (works in every terminal).
- On a chat's history (4, 5): `[` `]` (alt+←/→ from anywhere) switch the selected message's
  version, `d` deletes it (after a confirm), `ctrl+f` searches the conversation.
- F-keys switch tabs, and only that: F2 Register … F6 Reset on action 15.
"""

from __future__ import annotations

from textual.binding import Binding

TABLE_BINDINGS = [
    Binding("slash", "search", "Search", key_display="/"),
    Binding("left_square_bracket", "page(-1)", "Prev page", show=False),
    Binding("right_square_bracket", "page(1)", "Next page", show=False),
    Binding("pageup", "page(-1)", "Prev page", priority=True),
    Binding("pagedown", "page(1)", "Next page", priority=True),
]
"""Search and paging on a table screen: it implements `action_search` and `action_page`."""

SEARCH_DEBOUNCE_S = 0.2
"""A table's search waits for a pause in typing this long before it queries the core."""

PANEL_BINDING = Binding("ctrl+t", "toggle_panel", "Panel")
"""Show or hide the model panel (more room for the history at 80 columns)."""

STOP_BINDING = Binding("ctrl+c", "stop", "Stop reply", priority=True)
"""Stop the streaming reply; the core keeps what arrived, marked interrupted. Without a reply
streaming the key falls through (copy in a text box)."""
