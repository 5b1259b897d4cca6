"""The chat side panel offers every configured provider's models and shows who answered."""

from __future__ import annotations

from textual.widgets import Select, Static

from apsara_core.core import Core
from apsara_tui.app import ApsaraApp
from apsara_tui.screens.chat import ChatScreen
from tests.core.provider_helpers import declare
from tests.tui.test_chat_screens import chosen, settle, text_of, views


async def test_picker_lists_declared_models_and_the_reply_names_its_provider(
    chat_app: ApsaraApp, core: Core, fake_openai
) -> None:
    oai = await declare(core, "openai", fake_openai)
    await chosen(chat_app, core)
    async with chat_app.run_test(size=(100, 30)) as pilot:
        chat_app.open_action(4)
        await settle(chat_app, pilot)
        assert isinstance(chat_app.screen, ChatScreen)
        select = chat_app.screen.query_one(Select)
        offered = {value: str(label) for label, value in select._options if value != Select.BLANK}
        assert offered[oai.model] == "gpt-fake · oai" and "gemini-2.5-flash" in offered
        select.value = oai.model
        chat_app.screen.query_one("ChatInput").text = "hi there"
        await pilot.press("enter")
        await settle(chat_app, pilot)
        reply = views(chat_app)[-1]
        assert "Echo: hi there (turns=1)" in reply.text
        assert "oai/gpt-fake via oai" in text_of(reply.query_one(".usage", Static))
