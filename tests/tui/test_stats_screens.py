"""Screens 17 (database statistics), 18 (user statistics, password protected) and Plans."""

from __future__ import annotations

from textual.widgets import DataTable, Input, Static

from apsara_core.models import Principal
from apsara_tui.app import ApsaraApp
from apsara_tui.screens.plans import LimitModal, PlansScreen
from apsara_tui.screens.stats import DatabaseStatsScreen, PasswordModal, UserStatsScreen
from apsara_tui.widgets.charts import DayChart, ModelChart
from tests.factories import create_user, principal_of
from tests.tui.account_helpers import drained

FLASH, PRO = "gemini-2.5-flash", "gemini-2.5-pro"
PASSWORD = "correct horse battery"


async def settle(app: ApsaraApp, pilot) -> None:
    await drained(pilot)
    await pilot.pause()


def rows(table: DataTable) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def activity(app: ApsaraApp) -> dict:
    core = app.core
    alice = await create_user(core, "alice@example.com", plan="premium")
    for model, n in ((FLASH, 3), (PRO, 1)):
        for _ in range(n):
            r = await core.limits.reserve(actor=principal_of(alice), model=model)
            await core.limits.commit(r, prompt_tokens=10, output_tokens=5)
    return alice


async def test_database_statistics_screen(app: ApsaraApp) -> None:
    await activity(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.open_action(17)  # typing two digits is tested in test_shell.py
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, DatabaseStatsScreen)
        summary = str(screen.query_one("#summary", Static).render())
        assert "1 users" in summary and "60 tokens" in summary
        # one meaning of "messages" (stored, as action 18 counts them); metered calls are replies
        assert "0 messages stored" in summary and "4 model replies" in summary
        models = rows(screen.query_one("#models", DataTable))
        assert models[0][:3] == [FLASH, "3", "45"] and models[1][:2] == [PRO, "1"]
        assert models[0][5].startswith("█")
        # charts with a date axis, a scale and labels (the 30-day chart is 30 bars, not one)
        replies = screen.query_one("#messages", DayChart)
        assert len(replies.values) == 30 and replies.values[-1] == 4
        drawn = replies.text()
        assert "model replies per day" in drawn and "total 4" in drawn
        assert replies.days[-1][5:] in drawn and replies.days[0][5:] in drawn  # MM-DD labels
        assert "┤" in drawn and "4┤" in drawn.replace(" ", "")  # the scale reaches the top
        assert screen.query_one("#tokens", DayChart).values[-1] == 60
        popular = screen.query_one("#model-chart", ModelChart)
        assert popular.counts == [(FLASH, 3), (PRO, 1)]
        assert FLASH in popular.text() and PRO in popular.text()
        assert rows(screen.query_one("#top", DataTable))[0][:2] == ["alice@example.com", "4"]
        await pilot.press("p")
        await settle(app, pilot)
        assert isinstance(app.screen, PlansScreen)
        await pilot.press("escape", "escape")
        await pilot.pause()
        assert not isinstance(app.screen, (PlansScreen, DatabaseStatsScreen))


async def test_user_statistics_for_the_operator(app: ApsaraApp) -> None:
    await activity(app)
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_action(18)
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, UserStatsScreen)
        assert "Type a user's email" in str(screen.query_one("#summary", Static).render())
        screen.query_one("#who", Input).value = "alice@example.com"
        screen.query_one("#who", Input).focus()
        await pilot.press("enter")
        await settle(app, pilot)
        summary = str(screen.query_one("#summary", Static).render())
        assert "alice@example.com" in summary and "60 tokens" in summary
        quota = {r[0]: r for r in rows(screen.query_one("#quota", DataTable))}
        assert quota[FLASH][1:3] == ["3", "100"] and quota[PRO][1:3] == ["1", "50"]
        assert rows(screen.query_one("#models", DataTable))[0][:2] == [FLASH, "3"]


async def test_unknown_user_is_a_notification_not_a_crash(app: ApsaraApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_action(18)
        await settle(app, pilot)
        app.screen.query_one("#who", Input).value = "nobody@example.com"
        app.screen.query_one("#who", Input).focus()
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, UserStatsScreen)
        assert any("No user 'nobody@example.com'" in n.message for n in app._notifications)


async def test_user_statistics_ask_a_non_admin_for_the_password(app: ApsaraApp) -> None:
    user = await app.core.users.create(
        actor=Principal.operator(),
        email="erin@example.com",
        full_name="Erin",
        password=PASSWORD,
        verified=True,
    )
    await app.core.sessions.sign_in(
        lambda: app.core.auth.login(email=user["email"], password=PASSWORD)
    )
    async with app.run_test(size=(80, 24)) as pilot:
        app.current_user = user
        app.open_action(18)
        await pilot.pause()
        assert isinstance(app.screen, PasswordModal)
        await pilot.press(*"wrong password", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, UserStatsScreen)
        assert "Wrong password" in str(app.screen.query_one("#summary", Static).render())
        assert rows(app.screen.query_one("#quota", DataTable)) == []
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, PasswordModal)
        await pilot.press(*PASSWORD, "enter")
        await settle(app, pilot)
        summary = str(app.screen.query_one("#summary", Static).render())
        assert "erin@example.com" in summary and "(free)" in summary
        assert app.screen.query_one("#who", Input).disabled


async def test_plans_screen_edits_a_limit_with_validation(app: ApsaraApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(PlansScreen())
        await settle(app, pilot)
        table = app.screen.query_one(DataTable)
        keys = [r[:4] for r in rows(table)]
        assert ["guest", FLASH, "-", "5"] in keys and ["free", PRO, "5", "-"] in keys
        target = next(i for i, r in enumerate(keys) if r[:2] == ["free", PRO])
        table.move_cursor(row=target)
        table.focus()
        await pilot.press("enter")
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, LimitModal)
        value = modal.query_one("#value", Input)
        value.value = "-3"
        await pilot.pause()
        assert "whole number" in str(modal.query_one("#error", Static).render())
        assert modal.query_one("#save").disabled
        value.value = "12"
        await pilot.pause()
        await pilot.click("#save")
        await settle(app, pilot)
        assert isinstance(app.screen, PlansScreen)
        stored = await app.core.db.plans.find_one({"name": "free"})
        assert stored["models"][PRO] == {"daily": 12, "total": None}
        assert ["free", PRO, "12", "-"] in [r[:4] for r in rows(app.screen.query_one(DataTable))]
        assert await app.core.db.audit.count_documents({"action": "plan.set_limit"}) == 1


async def test_plans_screen_refuses_a_non_admin(app: ApsaraApp) -> None:
    user = await app.core.users.create(
        actor=Principal.operator(),
        email="user@example.com",
        full_name="User",
        password=PASSWORD,
        verified=True,
    )
    await app.core.sessions.sign_in(
        lambda: app.core.auth.login(email=user["email"], password=PASSWORD)
    )
    async with app.run_test(size=(80, 24)) as pilot:
        app.current_user = user
        app.push_screen(PlansScreen())
        await settle(app, pilot)
        table = app.screen.query_one(DataTable)
        table.focus()
        await pilot.press("enter")
        await pilot.pause()
        app.screen.query_one("#value", Input).value = "999"
        await pilot.pause()
        await pilot.click("#save")
        await settle(app, pilot)
        assert any("Only admins" in n.message for n in app._notifications)
        assert (await app.core.db.plans.find_one({"name": "guest"}))["models"][FLASH]["total"] == 5


async def test_plans_screen_shows_a_group_and_edits_its_shared_limit(app: ApsaraApp) -> None:
    admin = Principal.operator()
    await app.core.plans.set_group(
        actor=admin, plan="free", group="chat", models=[FLASH, PRO], daily=8
    )
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(PlansScreen())
        await settle(app, pilot)
        table = app.screen.query_one(DataTable)
        keys = [r[:4] for r in rows(table)]
        shown = ["free", f"group chat: {FLASH}, {PRO}", "8", "-"]
        assert shown in keys and not any(r[:2] == ["free", PRO] for r in keys)
        table.move_cursor(row=keys.index(shown))
        table.focus()
        await pilot.press("enter")
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, LimitModal)
        modal.query_one("#value", Input).value = "11"
        await pilot.pause()
        await pilot.click("#save")
        await settle(app, pilot)
        stored = await app.core.db.plans.find_one({"name": "free"})
        assert stored["groups"]["chat"] == {"models": [FLASH, PRO], "daily": 11, "total": None}
        assert ["free", f"group chat: {FLASH}, {PRO}", "11", "-"] in [
            r[:4] for r in rows(app.screen.query_one(DataTable))
        ]
