"""ConversationService on the embedded server: ownership, admins, stats, export, windows."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from pymongo import AsyncMongoClient, monitoring

from apsara_core.core import Core
from apsara_core.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from apsara_core.models import Principal
from apsara_core.repos import messages as msg_repo
from apsara_core.services import chat_store
from apsara_core.services.conversations import SUMMARY_BOUND
from apsara_core.services.sessions import OPERATOR
from tests.factories import create_user, insert_conversations, principal_of


async def user(core, email="u@example.com", **kw) -> Principal:
    return principal_of(await create_user(core, email, **kw))


async def seed(core, cid: str, owner: str, n: int) -> None:
    for i in range(n):
        await chat_store.append(
            core.db,
            {
                "messageId": msg_repo.new_message_id(),
                "conversationId": cid,
                "userId": owner,
                "role": "user" if i % 2 == 0 else "model",
                "content": {"text": f"m{i + 1}"},
                "config": {},
                "metadata": {"status": "complete"},
                "isEdited": False,
                "editHistory": [],
                "createdAt": core.clock.now(),
            },
        )


async def test_create_returns_the_stored_document(core):
    actor = await user(core)
    conv = await core.conversations.create(
        actor=actor, title="  Hello  ", system_instruction="Be kind"
    )
    assert conv["conversationId"].startswith("conv_") and conv["title"] == "Hello"
    assert conv["userId"] == actor.user_id
    assert conv["config"] == {"rest": {"systemInstruction": "Be kind"}}
    assert conv["stats"]["messageSequence"] == 0 and conv["stats"]["totalMessages"] == 0
    stored = await core.db.conversations.find_one(
        {"conversationId": conv["conversationId"]}, {"_id": 0}
    )
    # the search words and the owner's email (for views) stay internal
    assert stored == {**conv, "searchWords": ["hello"], "ownerEmail": actor.email}
    usage = await core.db.user_usage.find_one({"userId": actor.user_id})
    assert usage["totalUsage"]["totalConversations"] == 1


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": {"$ne": None}}, "title"),
        ({"title": "ok", "system_instruction": 5}, "systemInstruction"),
    ],
)
async def test_create_bad_input(core, kwargs, field):
    actor = await user(core)
    with pytest.raises(ValidationError) as info:
        await core.conversations.create(actor=actor, **kwargs)
    assert info.value.field == field
    assert await core.db.conversations.count_documents({}) == 0


async def test_owners_see_theirs_admins_see_all(core):
    alice, bob = await user(core, "a@example.com"), await user(core, "b@example.com")
    admin = await user(core, "admin@example.com", role="admin")
    ca = await core.conversations.create(actor=alice, title="A")
    await core.conversations.create(actor=bob, title="B")
    assert [c["title"] for c in await core.conversations.list(actor=alice)] == ["A"]
    assert {c["title"] for c in await core.conversations.list(actor=admin)} == {"A", "B"}
    assert [
        c["title"] for c in await core.conversations.list(actor=admin, user_id=bob.user_id)
    ] == ["B"]
    with pytest.raises(PermissionDeniedError):
        await core.conversations.list(actor=alice, user_id=bob.user_id)
    for call in (
        core.conversations.get,
        core.conversations.delete,
        core.conversations.branches,
        core.conversations.messages,
    ):
        with pytest.raises(NotFoundError):
            await call(actor=bob, conversation_id=ca["conversationId"])
    with pytest.raises(NotFoundError):
        await core.conversations.get(actor=alice, conversation_id="conv_unknown")
    assert (await core.conversations.get(actor=admin, conversation_id=ca["conversationId"]))[
        "title"
    ] == "A"
    with pytest.raises(ValidationError):
        await core.conversations.list(actor=alice, limit=0)


async def test_update_title_and_system_instruction_until_first_message(core):
    actor = await user(core)
    cid = (await core.conversations.create(actor=actor, title="T"))["conversationId"]
    conv = await core.conversations.update(
        actor=actor, conversation_id=cid, title="New", system_instruction="Speak French"
    )
    assert conv["title"] == "New" and conv["config"]["rest"]["systemInstruction"] == "Speak French"
    await seed(core, cid, actor.user_id, 1)
    with pytest.raises(ConflictError) as info:
        await core.conversations.update(
            actor=actor, conversation_id=cid, system_instruction="Other"
        )
    assert "fixed" in info.value.message
    conv = await core.conversations.update(actor=actor, conversation_id=cid, title="Renamed")
    assert (
        conv["title"] == "Renamed" and conv["config"]["rest"]["systemInstruction"] == "Speak French"
    )


async def test_messages_window_and_paging_back(core):
    actor = await user(core)
    cid = (await core.conversations.create(actor=actor, title="T"))["conversationId"]
    await seed(core, cid, actor.user_id, 30)
    newest = await core.conversations.messages(actor=actor, conversation_id=cid, limit=10)
    assert [m["messageSequence"] for m in newest] == list(range(21, 31))
    older = await core.conversations.messages(
        actor=actor, conversation_id=cid, before_sequence=21, limit=10
    )
    assert [m["messageSequence"] for m in older] == list(range(11, 21))
    first = await core.conversations.messages(
        actor=actor, conversation_id=cid, before_sequence=4, limit=10
    )
    assert [m["messageSequence"] for m in first] == [1, 2, 3]


async def test_window_widens_over_archived_gaps(core):
    actor = await user(core)
    cid = (await core.conversations.create(actor=actor, title="T"))["conversationId"]
    await seed(core, cid, actor.user_id, 20)
    await core.db.messages.delete_many(
        {"conversationId": cid, "messageSequence": {"$gt": 10, "$lte": 18}}
    )
    got = await core.conversations.messages(actor=actor, conversation_id=cid, limit=5)
    assert [m["messageSequence"] for m in got] == [8, 9, 10, 19, 20]


async def test_delete_one_and_delete_all(core):
    alice, bob = await user(core, "a@example.com"), await user(core, "b@example.com")
    admin = await user(core, "admin@example.com", role="admin")
    a1 = (await core.conversations.create(actor=alice, title="A1"))["conversationId"]
    a2 = (await core.conversations.create(actor=alice, title="A2"))["conversationId"]
    b1 = (await core.conversations.create(actor=bob, title="B1"))["conversationId"]
    for cid, who in ((a1, alice), (a2, alice), (b1, bob)):
        await seed(core, cid, who.user_id, 3)
    assert await core.conversations.delete(actor=alice, conversation_id=a1) == {
        "conversations": 1,
        "messages": 3,
    }
    assert await core.db.messages.count_documents({"conversationId": a1}) == 0
    with pytest.raises(PermissionDeniedError):
        await core.conversations.delete_all(actor=alice, user_id=bob.user_id)
    assert await core.conversations.delete_all(actor=admin, user_id=alice.user_id) == {
        "conversations": 1,
        "messages": 3,
    }
    assert await core.conversations.delete_all(actor=bob) == {"conversations": 1, "messages": 3}
    assert await core.db.conversations.count_documents({}) == 0
    assert await core.conversations.delete_all(actor=bob) == {"conversations": 0, "messages": 0}


async def test_export_json_and_markdown(core):
    actor = await user(core)
    cid = (
        await core.conversations.create(actor=actor, title="Trip", system_instruction="Be brief")
    )["conversationId"]
    await seed(core, cid, actor.user_id, 2)
    data = json.loads(await core.conversations.export(actor=actor, conversation_id=cid))
    assert data["conversation"]["title"] == "Trip"
    assert [m["content"]["text"] for m in data["messages"]] == ["m1", "m2"]
    md = await core.conversations.export(actor=actor, conversation_id=cid, fmt="markdown")
    assert md.startswith("# Trip") and "Be brief" in md and "## User (#1)" in md and "m2" in md
    with pytest.raises(ValidationError):
        await core.conversations.export(actor=actor, conversation_id=cid, fmt="pdf")


# --- read views, search and the delete-all summary ---------------------------------------


class Commands(monitoring.CommandListener):
    """Records (command name, collection) of every command a client sends."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.sent.append((event.command_name, str(event.command.get(event.command_name))))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@asynccontextmanager
async def counted(core: Core, mongo_uri: str) -> AsyncIterator[tuple[Core, Commands]]:
    """The same Core over a client that records the commands it sends."""
    listener = Commands()
    client: AsyncMongoClient = AsyncMongoClient(
        mongo_uri, event_listeners=[listener], tz_aware=True, retryWrites=False
    )
    try:
        yield (
            Core(
                settings=core.settings,
                client=client,
                db=client[core.db.name],
                target=core.target,
                schema_version=core.schema_version,
            ),
            listener,
        )
    finally:
        await client.close()


async def test_view_names_owner_system_instruction_and_counts(core):
    ada = await user(core, "ada@example.com")
    cid = (
        await core.conversations.create(
            actor=ada, title="Pirates", system_instruction="Answer like a pirate."
        )
    )["conversationId"]
    await seed(core, cid, ada.user_id, 3)
    view = await core.conversations.view(actor=ada, conversation_id=cid)
    assert (view.title, view.owner_email, view.system_instruction) == (
        "Pirates",
        "ada@example.com",
        "Answer like a pirate.",
    )
    assert view.message_count == 3 and view.user_id == ada.user_id
    assert view.created_at is not None and view.last_activity >= view.created_at
    other = await user(core, "bob@example.com")
    with pytest.raises(NotFoundError):
        await core.conversations.view(actor=other, conversation_id=cid)


async def test_a_page_of_views_fetches_its_owners_emails_in_one_query(core, mongo_uri):
    owners = [await create_user(core, f"owner{i}@example.com") for i in range(12)]
    await insert_conversations(core, [o["_id"] for o in owners], 60)
    await core.db.users.delete_one({"_id": owners[5]["_id"]})  # a gone owner shows their id
    async with counted(core, mongo_uri) as (listened, commands):
        page = await listened.conversations.browse(actor=OPERATOR, limit=50)
    assert len(page.items) == 50 and page.has_more
    assert {v.owner_email for v in page.items if v.user_id != owners[5]["_id"]} == {
        o["email"] for i, o in enumerate(owners) if i != 5
    }
    gone = [v for v in page.items if v.user_id == owners[5]["_id"]]
    assert gone and all(v.owner_email is None and v.owner == owners[5]["_id"] for v in gone)
    assert commands.sent.count(("find", "users")) == 1
    assert commands.sent.count(("find", "conversations")) == 1


async def test_search_runs_over_every_page_not_only_the_shown_one(core):
    ada, bob = (
        await create_user(core, "ada@example.com"),
        await create_user(core, "bob@example.com"),
    )
    ids = await insert_conversations(core, [ada["_id"]], 130, title="Chat {n}")
    await core.conversations.create(actor=principal_of(bob), title="Bob's Budget")
    third = await core.conversations.browse(actor=OPERATOR, user_id=ada["_id"], limit=50, skip=100)
    assert third.number == 3 and "Chat 127" in [v.title for v in third.items] and not third.has_more
    for scope in (ada["_id"], None):  # one user's (through its index) and everyone's
        found = await core.conversations.browse(actor=OPERATOR, user_id=scope, search="chat 127")
        assert [v.conversation_id for v in found.items] == [ids[127]]
    by_id = await core.conversations.browse(actor=OPERATOR, search=ids[42])
    assert [v.title for v in by_id.items] == ["Chat 42"]
    by_owner = await core.conversations.browse(actor=OPERATOR, search="BOB@")
    assert [v.title for v in by_owner.items] == ["Bob's Budget"]
    literal = await core.conversations.browse(actor=OPERATOR, search="Chat 1.*")  # not a regex
    assert literal.items == ()


async def test_search_stays_inside_what_the_actor_may_see(core):
    ada, bob = await user(core, "ada@example.com"), await user(core, "bob@example.com")
    await core.conversations.create(actor=ada, title="Shared word")
    mine = await core.conversations.create(actor=bob, title="Shared word too")
    found = await core.conversations.browse(actor=bob, search="shared")
    assert [v.conversation_id for v in found.items] == [mine["conversationId"]]
    assert (await core.conversations.browse(actor=bob, search="ada@")).items == ()
    with pytest.raises(PermissionDeniedError):
        await core.conversations.browse(actor=bob, user_id=ada.user_id)
    for bad in ({"$ne": None}, "x" * 101):
        with pytest.raises(ValidationError) as info:
            await core.conversations.browse(actor=bob, search=bad)
        assert info.value.field == "search"


async def test_delete_all_summary_counts_12000_conversations_in_one_bounded_read(core, mongo_uri):
    ada, bob = (
        await create_user(core, "ada@example.com"),
        await create_user(core, "bob@example.com"),
    )
    await insert_conversations(core, [ada["_id"]] * 3 + [bob["_id"]], 12_000, messages=2)
    async with counted(core, mongo_uri) as (listened, commands):
        everyone = await listened.conversations.summary(actor=OPERATOR)
    assert everyone.at_least and everyone.conversations == SUMMARY_BOUND
    assert everyone.messages == 2 * SUMMARY_BOUND and len(everyone.titles) == 10
    assert commands.sent.count(("find", "conversations")) == 1
    assert not [c for c in commands.sent if c[0] in ("getMore", "count", "aggregate")]
    cy = await user(core, "cy@example.com")
    for title in ("One", "Two"):
        cid = (await core.conversations.create(actor=cy, title=title))["conversationId"]
        await seed(core, cid, cy.user_id, 2)
    mine = await core.conversations.summary(actor=cy)  # under the bound: exact
    assert (mine.conversations, mine.messages, set(mine.titles), mine.at_least) == (
        2,
        4,
        {"One", "Two"},
        False,
    )


async def test_registered_owners_emails_are_stored_a_guests_looked_up(core, mongo_uri):
    owners = [await user(core, f"kept{i}@example.com") for i in range(3)]
    for o in owners:
        await core.conversations.create(actor=o, title=f"of {o.email}")
    session = await core.auth.guest(client_key="device-9", address="203.0.113.9")
    guest = await core.auth.verify_token(session.token)
    await core.conversations.create(actor=guest, title="a guest's")
    async with counted(core, mongo_uri) as (listened, commands):
        page = await listened.conversations.browse(actor=OPERATOR)
    assert {v.title: v.owner_email for v in page.items} == {
        **{f"of {o.email}": o.email for o in owners},
        "a guest's": session.user["email"],
    }
    assert commands.sent.count(("find", "users")) == 1  # the guest's only
    await core.auth.register(  # the guest registers: a new address on the same account
        full_name="Was Guest",
        email="was.guest@example.com",
        password="Correct-horse-battery-9",
        accept_terms=True,
        actor=guest,
    )
    page = await core.conversations.browse(actor=OPERATOR, search="a guest")
    assert [v.owner_email for v in page.items] == ["was.guest@example.com"]
    # the stored email stays out of every document a caller is given
    [mine] = await core.conversations.list(actor=owners[0])
    everyone = await core.conversations.list(actor=OPERATOR, everyone=True)
    assert all("ownerEmail" not in d for d in [mine, *everyone])
    got = await core.conversations.get(actor=owners[0], conversation_id=mine["conversationId"])
    assert "ownerEmail" not in got
