"""Actions 8, 9, 10 and 12: create, list (filters, pages, admin extras), choose and delete users."""

from __future__ import annotations

from datetime import timedelta

from textual.widgets import DataTable, Input, Select

from apsara_core.models import Conversation
from apsara_tui.app import ApsaraApp
from apsara_tui.screens.delete_user import DeleteUserScreen
from apsara_tui.screens.home import HomeScreen
from apsara_tui.screens.users import ChooseUserScreen, CreateUserScreen, UserListScreen
from apsara_tui.widgets.confirm import ChoiceModal, ConfirmModal
from apsara_tui.widgets.user_table import UserDetailsModal
from tests.factories import create_user
from tests.tui.account_helpers import fill, form, notes, open_action, settle, submit, text_of


async def _many_users(core, count: int = 27) -> None:
    for i in range(count):
        role = "admin" if i % 9 == 0 else "user"
        plan = "premium" if i % 4 == 0 else "free"
        user = await create_user(
            core, f"user{i:02d}@example.com", role=role, plan=plan, full_name=f"Person {i:02d}"
        )
        if i % 10 == 5:  # signed up with Google
            await core.db.users.update_one(
                {"_id": user["_id"]}, {"$set": {"authProvider": "google", "googleId": f"g{i}"}}
            )


def _emails(app: ApsaraApp) -> list[str]:
    table = app.screen.query_one(DataTable)
    return [str(table.get_row_at(i)[0]) for i in range(table.row_count)]


# -- 8: create ---------------------------------------------------------------------------------


async def test_create_user_by_typing_stores_a_bcrypt_hash(app: ApsaraApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("8")
        await settle(pilot)
        assert isinstance(app.screen, CreateUserScreen)
        await pilot.press(*"Ada", "tab")  # focus moves name -> email
        await pilot.press(*"ada@example.com", "enter")
        await pilot.press(*"correct horse battery", "enter")  # Enter in the last field submits
        await settle(pilot)
        assert "Created ada@example.com" in text_of(app, "#create-result")
        assert form(app, "create-form").field("email").value == ""  # cleared for the next one
    doc = await app.core.db.users.find_one({"email": "ada@example.com"})
    assert doc["fullName"] == "Ada" and doc["role"] == "user" and doc["subscriptionPlan"] == "free"
    assert doc["password"].startswith("$2b$04$")
    assert doc["isEmailVerified"] is False


async def test_create_admin_premium_verified(app: ApsaraApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await open_action(pilot, 8)
        await fill(
            pilot, "create-form", full_name="Grace Hopper", email="Grace@Example.com", password=""
        )
        app.screen.query_one("#role", Select).value = "admin"
        app.screen.query_one("#plan", Select).value = "premium"
        await pilot.click("#verified")
        await submit(pilot, "create-form")
        assert "grace@example.com" in text_of(app, "#create-result")
    doc = await app.core.db.users.find_one({"email": "grace@example.com"})
    assert (doc["role"], doc["subscriptionPlan"], doc["isEmailVerified"]) == (
        "admin",
        "premium",
        True,
    )
    assert not doc.get("password")  # no password given: no password sign-in
    assert await app.core.db.audit.count_documents({}) >= 1


async def test_create_user_bad_input_shows_field_errors_and_writes_nothing(app: ApsaraApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await open_action(pilot, 8)
        await pilot.press(*"x")  # validate as you type: fine so far
        await fill(pilot, "create-form", email="not-an-email")
        create = form(app, "create-form")
        assert "email address" in create.field("email").error  # shown while typing
        await fill(pilot, "create-form", full_name="", password="short")
        await submit(pilot, "create-form")
        assert create.field("full_name").error == "Enter the full name"
        assert "8–128" in create.field("password").error
        assert await app.core.db.users.count_documents({}) == 0
        # the Core's own rules land under the field too: a common password
        await fill(
            pilot, "create-form", full_name="Bob", email="bob@example.com", password="password123"
        )
        await submit(pilot, "create-form")
        assert create.field("password").error
        assert await app.core.db.users.count_documents({}) == 0
        # hostile text is just text: no operator object reaches the database
        await fill(
            pilot, "create-form", full_name='{"$ne": null}', email='{"$ne": null}@x', password=""
        )
        await submit(pilot, "create-form")
        assert create.field("email").error
        assert await app.core.db.users.count_documents({}) == 0


async def test_create_duplicate_email_is_refused(app: ApsaraApp) -> None:
    await create_user(app.core, "taken@example.com")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_action(pilot, 8)
        await fill(pilot, "create-form", full_name="Copy", email="TAKEN@example.com", password="")
        await submit(pilot, "create-form")
        assert "already exists" in notes(app)
        assert text_of(app, "#create-result") == ""
    assert await app.core.db.users.count_documents({"email": "taken@example.com"}) == 1


# -- 9: list, filters, pages, admin extras ------------------------------------------------------


async def test_list_pages_and_filters_with_27_users(app: ApsaraApp) -> None:
    await _many_users(app.core)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("9")
        await settle(pilot)
        assert isinstance(app.screen, UserListScreen)
        assert len(_emails(app)) == 15
        assert "page 1/2 · users 1–15 of 27" in text_of(app, "#user-page")
        first_page = set(_emails(app))
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert len(_emails(app)) == 12 and not first_page & set(_emails(app))
        assert "page 2/2" in text_of(app, "#user-page")
        await pilot.press("pageup")
        await settle(pilot)
        assert set(_emails(app)) == first_page
        app.screen.query_one("#filter-role", Select).value = "admin"
        await settle(pilot)
        assert sorted(_emails(app)) == [
            "user00@example.com",
            "user09@example.com",
            "user18@example.com",
        ]
        app.screen.query_one("#filter-plan", Select).value = "premium"
        await settle(pilot)
        assert _emails(app) == ["user00@example.com"]  # admin and premium: 0 only (9, 18 are free)
        app.screen.query_one("#filter-role", Select).clear()
        app.screen.query_one("#filter-plan", Select).clear()
        app.screen.query_one("#filter-provider", Select).value = "google"
        await settle(pilot)
        assert sorted(_emails(app)) == [
            "user05@example.com",
            "user15@example.com",
            "user25@example.com",
        ]


async def test_search_box_matches_name_or_email(app: ApsaraApp) -> None:
    await _many_users(app.core)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_action(pilot, 9)
        await pilot.press("slash", *"Person 1")
        await settle(pilot)
        assert app.screen.query_one("#user-search", Input).value == "Person 1"
        assert sorted(_emails(app)) == [f"user1{i}@example.com" for i in range(10)]
        assert "of 10" in text_of(app, "#user-page")
        await pilot.press(*"zzz")
        await settle(pilot)
        assert _emails(app) == [] and "none match" in text_of(app, "#user-page")


async def test_enter_shows_details_and_admin_extras_change_the_database(app: ApsaraApp) -> None:
    user = await create_user(
        app.core,
        "pat@example.com",
        full_name="Pat",
        failedLoginAttempts=5,
        lockedUntil=app.core.clock.now() + timedelta(minutes=10),
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await open_action(pilot, 9)
        assert "locked" in app.screen.query_one(DataTable).get_row_at(0)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, UserDetailsModal)
        details = text_of(app, "#details")
        assert "Pat <pat@example.com>" in details and "locked: until" in details
        await pilot.press("p")  # plan, from the details
        await settle(pilot)
        assert isinstance(app.screen, ChoiceModal)
        await pilot.press("down", "enter")  # free -> premium
        await settle(pilot)
        assert isinstance(app.screen, UserListScreen)
        await pilot.press("r", "down", "enter")  # role: user -> admin, straight from the list
        await settle(pilot)
        await pilot.press("u")  # unlock
        await settle(pilot)
        row = app.screen.query_one(DataTable).get_row_at(0)
        assert row[2:4] == ["admin", "premium"] and row[6] == ""
    doc = await app.core.db.users.find_one({"_id": user["_id"]})
    assert (doc["role"], doc["subscriptionPlan"]) == ("admin", "premium")
    assert not doc.get("lockedUntil") and doc["failedLoginAttempts"] == 0
    assert await app.core.db.audit.count_documents({"targetId": user["_id"]}) == 3


async def test_delete_from_the_list_asks_first(app: ApsaraApp) -> None:
    user = await create_user(app.core, "gone@example.com")
    await create_user(app.core, "stays@example.com")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_action(pilot, 9)
        table = app.screen.query_one(DataTable)
        table.move_cursor(row=_emails(app).index("gone@example.com"))
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        assert "gone@example.com" in text_of(app, "#confirm-title")
        await pilot.press("n")
        await settle(pilot)
        assert await app.core.db.users.count_documents({"_id": user["_id"]}) == 1
        await pilot.press("d", "y")
        await settle(pilot)
        assert _emails(app) == ["stays@example.com"]
    assert await app.core.db.users.count_documents({"_id": user["_id"]}) == 0


# -- 10: choose --------------------------------------------------------------------------------


async def test_choose_user_sets_current_user_and_header(app: ApsaraApp) -> None:
    await _many_users(app.core, 5)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_action(pilot, 10)  # typing "1" "0" is tested in test_shell; under load the
        # pause between the two keys can outlast the wait for a second digit
        assert isinstance(app.screen, ChooseUserScreen)
        await pilot.press("slash", *"user03", "enter")  # Enter in the search box goes to the table
        await settle(pilot)
        assert _emails(app) == ["user03@example.com"]
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)
        assert app.current_user["email"] == "user03@example.com"
        assert "password" not in app.current_user
        assert "user03@example.com" in app.sub_title
        await open_action(pilot, 10)
        await pilot.press("n")
        await settle(pilot)
        assert app.current_user is None and "no user" in app.sub_title


# -- 12: delete by email or id ----------------------------------------------------------------


async def _user_with_conversation(app: ApsaraApp, email: str) -> dict:
    user = await create_user(app.core, email, full_name="Doomed")
    now = app.core.clock.now()
    conv = Conversation(
        conversationId=f"c-{user['_id']}",
        userId=user["_id"],
        title="hello",
        createdAt=now,
        updatedAt=now,
    ).to_mongo()
    await app.core.db.conversations.insert_one(conv)
    return user


async def test_delete_user_cancelled_deletes_nothing(app: ApsaraApp) -> None:
    user = await _user_with_conversation(app, "doomed@example.com")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.open_action(12)  # typing two digits is tested in test_shell.py
        await settle(pilot)
        assert isinstance(app.screen, DeleteUserScreen)
        await pilot.press(*"doomed@example.com", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        body = text_of(app, "#confirm-body")
        assert "Doomed <doomed@example.com>" in body and "conversations" in body
        await pilot.press("escape")
        await settle(pilot)
        assert "Nothing was deleted" in notes(app)
    assert await app.core.db.users.count_documents({"_id": user["_id"]}) == 1
    assert await app.core.db.conversations.count_documents({"userId": user["_id"]}) == 1


async def test_delete_user_by_id_confirmed_removes_user_and_data(app: ApsaraApp) -> None:
    user = await _user_with_conversation(app, "doomed@example.com")
    app.current_user = {"_id": user["_id"], "email": "doomed@example.com"}
    async with app.run_test(size=(80, 24)) as pilot:
        await open_action(pilot, 12)
        await fill(pilot, "delete-form", user=user["_id"])
        await submit(pilot, "delete-form")
        await pilot.press("y")
        await settle(pilot)
        assert "Deleted doomed@example.com: 1 conversations" in text_of(app, "#delete-result")
        assert app.current_user is None
    assert await app.core.db.users.count_documents({"_id": user["_id"]}) == 0
    assert await app.core.db.conversations.count_documents({"userId": user["_id"]}) == 0


async def test_delete_user_bad_input(app: ApsaraApp) -> None:
    await create_user(app.core, "keep@example.com")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_action(pilot, 12)
        await submit(pilot, "delete-form")
        assert form(app, "delete-form").field("user").error == "Enter an email or a user id"
        await fill(pilot, "delete-form", user="nobody@example.com")
        await submit(pilot, "delete-form")
        assert "nobody@example.com" in form(app, "delete-form").field("user").error
        assert isinstance(app.screen, DeleteUserScreen)
    assert await app.core.db.users.count_documents({}) == 1
