"""`apsara user ...`: Users: create, list, show, delete, plan, role, unlock.

Who acts follows the core's one rule (`apsara_core.services.sessions`): the operator as
admin when nobody is logged in (or with `apsara --operator`), else the logged-in user with
their own rights, so these admin commands are refused to a non-admin session. Every change is
recorded in the audit trail with its actor.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from apsara_core.vocabulary import ASSIGNABLE_PLANS, ASSIGNABLE_ROLES, AUTH_PROVIDERS, PLANS, ROLES
from apsara_tui.commands.catalog import help_of
from apsara_tui.commands.options import JsonOpt, UserArg, YesOpt, one_of
from apsara_tui.commands.runtime import console, emit, run_as

app = typer.Typer(help=help_of("user"), no_args_is_help=True)


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def show_user(user: dict[str, Any]) -> None:
    """Print one public user as label: value lines."""
    locked = user.get("lockedUntil")
    rows = [
        ("id", user["_id"]),
        ("email", user["email"]),
        ("name", user["fullName"]),
        ("role", user["role"]),
        ("plan", user["subscriptionPlan"]),
        ("provider", user["authProvider"]),
        ("verified", "yes" if user["isEmailVerified"] else "no"),
        ("locked until", _when(locked) if locked else "not locked"),
        ("failed logins", str(user["failedLoginAttempts"])),
        ("created", _when(user["createdAt"])),
        ("last login", _when(user.get("lastLoginAt"))),
    ]
    if "messagesLeft" in user:
        rows.append(("messages left", str(user["messagesLeft"])))
    for label, value in rows:
        console.print(f"[bold]{label:>14}[/] {value}", highlight=False)


@app.command()
def create(
    email: Annotated[str, typer.Option("--email", help="The new user's email.")],
    name: Annotated[str, typer.Option("--name", help="Full name.")],
    password: Annotated[
        str | None,
        typer.Option("--password", help="Initial password (prompted, hidden, when omitted)."),
    ] = None,
    role: Annotated[str, typer.Option("--role", help=f"{one_of(ASSIGNABLE_ROLES)}.")] = "user",
    plan: Annotated[str, typer.Option("--plan", help=f"{one_of(ASSIGNABLE_PLANS)}.")] = "free",
    verified: Annotated[bool, typer.Option("--verified", help="Mark the email verified.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Create a user (audited). Without --password, asks for it with hidden input."""
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    user = run_as(
        lambda core, me: core.users.create(
            actor=me,
            email=email,
            full_name=name,
            password=password,
            role=role,
            plan=plan,
            verified=verified,
        )
    )
    emit(
        user,
        json_out=json_out,
        human=lambda u: console.print(
            f"created {u['email']} ({u['_id']}), role {u['role']}, plan {u['subscriptionPlan']}",
            highlight=False,
        ),
    )


@app.command("list")
def list_users(
    role: Annotated[str | None, typer.Option("--role", help=f"{one_of(ROLES)}.")] = None,
    plan: Annotated[str | None, typer.Option("--plan", help=f"{one_of(PLANS)}.")] = None,
    provider: Annotated[
        str | None, typer.Option("--provider", help=f"{one_of(AUTH_PROVIDERS)}.")
    ] = None,
    search: Annotated[
        str | None, typer.Option("--search", help="Text in the email or name.")
    ] = None,
    page: Annotated[int, typer.Option("--page", help="Page number, from 1.")] = 1,
    page_size: Annotated[int, typer.Option("--page-size", help="Users per page (1-100).")] = 20,
    json_out: JsonOpt = False,
) -> None:
    """List users, newest first, with filters and pages (--json: an array of users)."""
    data = run_as(
        lambda core, me: core.users.list(
            actor=me,
            role=role,
            plan=plan,
            provider=provider,
            text=search,
            page=page,
            page_size=page_size,
        )
    )
    if json_out:
        emit(data["items"], json_out=True)
        return
    table = Table("name", "role", "plan", "provider", "verified", "locked")
    table.add_column("email", no_wrap=True)
    for u in data["items"]:
        table.add_row(
            u["fullName"],
            u["role"],
            u["subscriptionPlan"],
            u["authProvider"],
            "yes" if u["isEmailVerified"] else "no",
            _when(u["lockedUntil"]) if u["lockedUntil"] else "",
            u["email"],
        )
    console.print(table)
    pages = max(1, -(-data["total"] // data["pageSize"]))
    console.print(f"page {data['page']} of {pages} · {data['total']} users", highlight=False)


@app.command()
def show(user: UserArg, json_out: JsonOpt = False) -> None:
    """Show one user."""
    emit(
        run_as(lambda core, me: core.users.get(actor=me, user=user)),
        json_out=json_out,
        human=show_user,
    )


@app.command()
def delete(
    user: UserArg,
    yes: YesOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Delete a user with their conversations, messages, files and usage (audited)."""

    async def job(core: Any, me: Any) -> dict[str, Any] | None:
        target = await core.users.get(actor=me, user=user)
        if not yes and not typer.confirm(
            f"Delete {target['email']} and all their conversations, messages, files and usage?"
        ):
            return None
        return await core.users.delete(actor=me, user=target["_id"])

    result = run_as(job)
    if result is None:
        console.print("nothing deleted")
        raise typer.Exit(1)
    emit(
        result,
        json_out=json_out,
        human=lambda r: console.print(
            f"deleted {r['user']}: {r['conversations']} conversations, {r['messages']} messages, "
            f"{r['files']} files, {r['usage']} usage records",
            highlight=False,
        ),
    )


@app.command("set-plan")
def set_plan(
    user: UserArg,
    plan: Annotated[str, typer.Argument(metavar="PLAN", help=f"{one_of(ASSIGNABLE_PLANS)}.")],
    json_out: JsonOpt = False,
) -> None:
    """Change a user's plan (applies at their next call; audited)."""
    data = run_as(lambda core, me: core.users.set_plan(actor=me, user=user, plan=plan))
    emit(
        data,
        json_out=json_out,
        human=lambda d: console.print(
            f"{d['email']} is now on plan {d['subscriptionPlan']}", highlight=False
        ),
    )


@app.command("set-role")
def set_role(
    user: UserArg,
    role: Annotated[str, typer.Argument(metavar="ROLE", help=f"{one_of(ASSIGNABLE_ROLES)}.")],
    json_out: JsonOpt = False,
) -> None:
    """Change a user's role (applies at their next call; audited)."""
    data = run_as(lambda core, me: core.users.set_role(actor=me, user=user, role=role))
    emit(
        data,
        json_out=json_out,
        human=lambda d: console.print(f"{d['email']} is now {d['role']}", highlight=False),
    )


@app.command()
def unlock(user: UserArg, json_out: JsonOpt = False) -> None:
    """Lift a login lockout and reset the failure counter (audited)."""
    data = run_as(lambda core, me: core.users.unlock(actor=me, user=user))
    emit(
        data,
        json_out=json_out,
        human=lambda d: console.print(f"{d['email']} unlocked", highlight=False),
    )


@app.command()
def audit(
    user: Annotated[
        str | None, typer.Argument(metavar="[EMAIL_OR_ID]", help="Only this user's entries.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="How many entries (1-500).")] = 50,
    json_out: JsonOpt = False,
) -> None:
    """The audit trail of admin actions on users, newest first."""

    async def job(core: Any, me: Any) -> list[dict[str, Any]]:
        target = (await core.users.get(actor=me, user=user))["_id"] if user else None
        return await core.audit.list(actor=me, target_id=target, limit=limit)

    entries = run_as(job)
    if json_out:
        emit(entries, json_out=True)
        return
    table = Table("at", "actor", "action", "target", "before", "after")
    for e in entries:
        table.add_row(
            _when(e["at"]),
            e.get("actorEmail") or e["actorId"],
            e["action"],
            e["targetId"],
            _brief(e["before"]),
            _brief(e["after"]),
        )
    console.print(table)


def _brief(value: Any) -> str:
    if not value:
        return "-"
    return ", ".join(
        f"{k}={v}"
        for k, v in value.items()
        if k
        in ("email", "role", "subscriptionPlan", "lockedUntil", "failedLoginAttempts", "deleted")
    )
