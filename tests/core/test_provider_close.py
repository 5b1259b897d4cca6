"""Closing the core closes the providers' SDK connection pools, the built-in Gemini one's
included: none is left for the garbage collector, which would try to close it on an event
loop that has ended ("Task exception was never retrieved ... Event loop is closed")."""

from __future__ import annotations

from apsara_core.config import Settings
from apsara_core.vocabulary import DEFAULT_MODEL
from tests.conftest import opened_core
from tests.factories import create_user, principal_of


async def test_closing_the_core_closes_the_gemini_clients_pools(chat_settings: Settings) -> None:
    async with opened_core(chat_settings) as core:
        actor = principal_of(await create_user(core, "close@example.com", plan="premium"))
        conv = await core.conversations.create(actor=actor, title="closing")
        await core.chat.generate(actor=actor, conversation_id=conv["conversationId"], text="hi")
        api = core.providers.for_model(DEFAULT_MODEL).client()._api_client
        assert not api._async_httpx_client.is_closed  # the reply came through it
        await core.settle()
        await core.providers.aclose()
        assert api._async_httpx_client.is_closed and api._httpx_client.is_closed
        again = await core.chat.generate(  # a later call builds a new client
            actor=actor, conversation_id=conv["conversationId"], text="again"
        )
        assert again["text"]
