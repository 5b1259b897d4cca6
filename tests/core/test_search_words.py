"""User and conversation search through the maintained `searchWords` (repos/search_words.py),
on the real embedded server: kept up to date by every write, read through the index alone."""

from __future__ import annotations

from typing import Any

from apsara_core.core import Core
from apsara_core.models import Principal
from apsara_core.repos import search_words
from tests.factories import STRONG_PASSWORD, create_user, insert_conversations, principal_of

OP = Principal.operator()


def test_words_are_distinct_lower_cased_letters_and_digits() -> None:
    assert search_words.words("Ann.Lee-2@Example.COM", "Ann Lee") == [
        "ann",
        "lee",
        "2",
        "example",
        "com",
    ]
    assert search_words.words("Été à Zürich_x") == ["été", "à", "zürich", "x"]
    assert search_words.key_word("bob the b") == "bob" and search_words.key_word(".*") is None


async def _explain(core: Core, collection: str, query: dict[str, Any]) -> dict[str, Any]:
    explained = await core.db.command(
        "explain", {"find": collection, "filter": query}, verbosity="executionStats"
    )
    return explained["executionStats"]


async def test_the_search_query_reads_the_index_not_the_collection(core: Core) -> None:
    await insert_conversations(core, ["owner"], 300, title="Topic {n}")
    stats = await _explain(core, "conversations", search_words.server_query("topic 12"))
    assert stats["totalDocsExamined"] == 300  # every "topic": the candidates, by the index
    stats = await _explain(core, "conversations", search_words.server_query("12 topic"))
    assert stats["nReturned"] == 300  # the longest word leads ("topic")
    other = await _explain(core, "conversations", search_words.server_query("budget"))
    assert other["totalDocsExamined"] == 0


async def test_user_search_follows_name_and_email_changes(core: Core) -> None:
    await create_user(core, "ann@example.com", full_name="Ann Builder", plan="premium")
    await create_user(core, "bob@example.com", full_name="Bob Baker")
    session = await core.auth.guest(client_key="device-1", address="203.0.113.9")

    async def emails(text: str, **kw: Any) -> list[str]:
        return [u["email"] for u in (await core.users.list(actor=OP, text=text, **kw))["items"]]

    assert await emails("build") == ["ann@example.com"]
    assert await emails("n buil") == ["ann@example.com"]  # the whole text, inside the name
    assert await emails("uilder") == []  # a search starts a word
    assert await emails("BOB@EXA") == ["bob@example.com"]
    assert await emails("ann", plan="free") == []  # filters apply to the candidates
    assert await emails("ann", plan="premium") == ["ann@example.com"]
    await core.auth.register(
        full_name="Carol Weaver",
        email="carol@example.com",
        password=STRONG_PASSWORD,
        accept_terms=True,
        actor=await core.auth.verify_token(session.token),
    )  # the guest is upgraded in place: a repos.users.update of email and name
    assert await emails("weaver") == ["carol@example.com"]
    assert (await core.users.list(actor=OP, text="carol"))["total"] == 1


async def test_title_search_follows_renames_in_one_users_and_everyones_lists(core: Core) -> None:
    ada = principal_of(await create_user(core, "ada@example.com"))
    bob = principal_of(await create_user(core, "bob@example.com"))
    mine = await core.conversations.create(actor=ada, title="Garden plans")
    await core.conversations.create(actor=bob, title="Gardening club")

    async def titles(actor: Principal, search: str, **kw: Any) -> list[str]:
        page = await core.conversations.browse(actor=actor, search=search, **kw)
        return sorted(v.title for v in page.items)

    assert await titles(OP, "garden") == ["Garden plans", "Gardening club"]
    assert await titles(ada, "garden") == ["Garden plans"]  # one user's: through userId
    assert await titles(OP, "garden", user_id=bob.user_id) == ["Gardening club"]
    await core.conversations.update(
        actor=ada, conversation_id=mine["conversationId"], title="Trip to Kyoto"
    )
    assert await titles(OP, "garden") == ["Gardening club"]
    assert await titles(OP, "kyoto") == await titles(ada, "TO KY") == ["Trip to Kyoto"]
    assert await titles(OP, "ada@") == ["Trip to Kyoto"]  # everyone's: the owner's email too
    stored = await core.db.conversations.find_one({"_id": mine["conversationId"]})
    assert stored["searchWords"] == ["trip", "to", "kyoto"]
    shown = await core.conversations.get(actor=ada, conversation_id=mine["conversationId"])
    assert "searchWords" not in shown
