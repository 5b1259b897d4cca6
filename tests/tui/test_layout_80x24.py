"""At 80×24: the header keeps the conversation's title whole, the chat's side panel shows the
whole quota, and toasts do not cover the result lines near the footer."""

from __future__ import annotations

from textual.widgets import Static
from textual.widgets._header import HeaderTitle
from textual.widgets._toast import Toast

from apsara_core.models.views import ConversationView
from apsara_tui.app import ApsaraApp, fit_subtitle
from apsara_tui.screens.chat import ChatScreen
from tests.factories import principal_of
from tests.tui.account_helpers import settle
from tests.tui.chat_fixtures import chat_user

TITLE = "Trip planning to Kyoto"


def test_the_subtitle_drops_the_db_label_before_the_title() -> None:
    full = fit_subtitle("ana@example.com", TITLE, "127.0.0.1:27017", 80)
    assert full == f"ana@example.com · {TITLE} · db 127.0.0.1:27017"
    assert fit_subtitle("ana@example.com", TITLE, "127.0.0.1:27017", 50) == (
        f"ana@example.com · {TITLE}"
    )
    assert fit_subtitle("ana.longname@example.com", TITLE, "x", 37) == f"ana.longname · {TITLE}"
    assert fit_subtitle("ana@example.com", TITLE, "x", 10).startswith(TITLE)
    assert fit_subtitle(None, "", "x", 80) == "db x · no user"


async def test_chat_at_80x24_header_panel_and_toasts(chat_app: ApsaraApp) -> None:
    core = chat_app.core
    user = await chat_user(core)
    conv = await core.conversations.create(actor=principal_of(user), title=TITLE)
    async with chat_app.run_test(size=(80, 24), notifications=True) as pilot:
        chat_app.current_user = user
        chat_app.current_conversation = ConversationView.of(conv)
        chat_app.open_action(4)
        await settle(pilot)
        assert isinstance(chat_app.screen, ChatScreen)
        header = str(chat_app.screen.query_one(HeaderTitle).render())
        assert f"4. Send message to AI — {user['email']} · {TITLE}" in header
        quota = chat_app.screen.query_one("#quota", Static)
        lines = str(quota.content).splitlines()
        assert len(lines) >= 3 and "2.5-flash: 100/100" in lines  # every model, not just one
        screen_area = chat_app.screen.region
        assert screen_area.contains_region(quota.region) and quota.region.height >= len(lines)
        chat_app.notify("Saved: a result line says the same.")
        chat_app.notify("Check the side panel", severity="warning")
        await pilot.pause(0.2)
        toasts = list(chat_app.screen.query(Toast))
        assert len(toasts) == 2
        for toast in toasts:
            assert toast.region.y >= 1 and toast.region.bottom <= 12  # top right, under the header
