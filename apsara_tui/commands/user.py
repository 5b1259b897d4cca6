"""`apsara user ...`: Users: create, list, show, delete, plan, role, unlock.

The CLI is an operator tool with direct database access: it acts as admin, and every change
is recorded in the audit trail with the operator as actor.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from apsara_core.models import Principal
from apsara_tui.commands.runtime import console, emit_json, run

app = typer.Typer(help="Users: create, list, show, delete, plan, role, unlock.", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
UserArg = Annotated[str, typer.Argument(metavar="EMAIL_OR_ID", help="The user's email or id.")]
OP = Principal.operator()


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def show_user(user: dict[str, Any]) -> None:
    """Print one public user as label: value lines."""
    locked = user.get("lockedUntil")
    rows = [("id", user["_id"]), ("email", user["email"]), ("name", user["fullName"]),
            ("role", user["role"]), ("plan", user["subscriptionPlan"]),
            ("provider", user["authProvider"]), ("verified", "yes" if user["isEmailVerified"] else "no"),
            ("locked until", _when(locked) if locked else "not locked"),
            ("failed logins", str(user["failedLoginAttempts"])), ("created", _when(user["createdAt"])),
            ("last login", _when(user.get("lastLoginAt")))]
    if "messagesLeft" in user:
        rows.append(("messages left", str(user["messagesLeft"])))
    for label, value in rows:
        console.print(f"[bold]{label:>14}[/] {value}", highlight=False)


@app.command()
def create(
    email: Annotated[str, typer.Option("--email", help="The new user's email.")],
    name: Annotated[str, typer.Option("--name", help="Full name.")],
    password: Annotated[str | None, typer.Option(
        "--password", help="Initial password (prompted, hidden, when omitted).")] = None,
    role: Annotated[str, typer.Option("--role", help="user or admin.")] = "user",
    plan: Annotated[str, typer.Option("--plan", help="free or premium.")] = "free",
    verified: Annotated[bool, typer.Option("--verified", help="Mark the email verified.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Create a user (audited). Without --password, asks for it with hidden input."""
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    user = run(lambda core: core.users.create(actor=OP, email=email, full_name=name,
                                              password=password, role=role, plan=plan,
                                              verified=verified))
    if json_out:
        emit_json(user)
    else:
        console.print(f"created {user['email']} ({user['_id']}), role {user['role']}, "
                      f"plan {user['subscriptionPlan']}", highlight=False)


@app.command("list")
def list_users(
    role: Annotated[str | None, typer.Option("--role", help="user, admin or guest.")] = None,
    plan: Annotated[str | None, typer.Option("--plan", help="guest, free or premium.")] = None,
    provider: Annotated[str | None, typer.Option("--provider", help="local, google or guest.")] = None,
    search: Annotated[str | None, typer.Option("--search", help="Text in the email or name.")] = None,
    page: Annotated[int, typer.Option("--page", help="Page number, from 1.")] = 1,
    page_size: Annotated[int, typer.Option("--page-size", help="Users per page (1-100).")] = 20,
    json_out: JsonOpt = False,
) -> None:
    """List users, newest first, with filters and pages (--json: an array of users)."""
    data = run(lambda core: core.users.list(actor=OP, role=role, plan=plan, provider=provider,
                                            text=search, page=page, page_size=page_size))
    if json_out:
        emit_json(data["items"])
        return
    table = Table("name", "role", "plan", "provider", "verified", "locked")
    table.add_column("email", no_wrap=True)
    for u in data["items"]:
        table.add_row(u["fullName"], u["role"], u["subscriptionPlan"], u["authProvider"],
                      "yes" if u["isEmailVerified"] else "no",
                      _when(u["lockedUntil"]) if u["lockedUntil"] else "", u["email"])
    console.print(table)
    pages = max(1, -(-data["total"] // data["pageSize"]))
    console.print(f"page {data['page']} of {pages} · {data['total']} users", highlight=False)


@app.command()
def show(user: UserArg, json_out: JsonOpt = False) -> None:
    """Show one user."""
    data = run(lambda core: core.users.get(actor=OP, user=user))
    emit_json(data) if json_out else show_user(data)


@app.command()
def delete(
    user: UserArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Delete a user with their conversations, messages, files and usage (audited)."""
    target = run(lambda core: core.users.get(actor=OP, user=user))
    if not yes and not typer.confirm(
            f"Delete {target['email']} and all their conversations, messages, files and usage?"):
        console.print("nothing deleted")
        raise typer.Exit(1)
    result = run(lambda core: core.users.delete(actor=OP, user=target["_id"]))
    if json_out:
        emit_json(result)
    else:
        console.print(f"deleted {result['user']}: {result['conversations']} conversations, "
                      f"{result['messages']} messages, {result['files']} files, "
                      f"{result['usage']} usage records", highlight=False)


@app.command("set-plan")
def set_plan(user: UserArg,
             plan: Annotated[str, typer.Argument(metavar="PLAN", help="free or premium.")],
             json_out: JsonOpt = False) -> None:
    """Change a user's plan (applies at their next call; audited)."""
    data = run(lambda core: core.users.set_plan(actor=OP, user=user, plan=plan))
    emit_json(data) if json_out else console.print(
        f"{data['email']} is now on plan {data['subscriptionPlan']}", highlight=False)


@app.command("set-role")
def set_role(user: UserArg,
             role: Annotated[str, typer.Argument(metavar="ROLE", help="user or admin.")],
             json_out: JsonOpt = False) -> None:
    """Change a user's role (applies at their next call; audited)."""
    data = run(lambda core: core.users.set_role(actor=OP, user=user, role=role))
    emit_json(data) if json_out else console.print(
        f"{data['email']} is now {data['role']}", highlight=False)


@app.command()
def unlock(user: UserArg, json_out: JsonOpt = False) -> None:
    """Lift a login lockout and reset the failure counter (audited)."""
    data = run(lambda core: core.users.unlock(actor=OP, user=user))
    emit_json(data) if json_out else console.print(f"{data['email']} unlocked", highlight=False)


@app.command()
def audit(
    user: Annotated[str | None, typer.Argument(metavar="[EMAIL_OR_ID]",
                                               help="Only this user's entries.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="How many entries (1-500).")] = 50,
    json_out: JsonOpt = False,
) -> None:
    """The audit trail of admin actions on users, newest first."""
    async def job(core: Any) -> list[dict[str, Any]]:
        target = (await core.users.get(actor=OP, user=user))["_id"] if user else None
        return await core.audit.list(actor=OP, target_id=target, limit=limit)

    entries = run(job)
    if json_out:
        emit_json(entries)
        return
    table = Table("at", "actor", "action", "target", "before", "after")
    for e in entries:
        table.add_row(_when(e["at"]), e.get("actorEmail") or e["actorId"], e["action"],
                      e["targetId"], _brief(e["before"]), _brief(e["after"]))
    console.print(table)


def _brief(value: Any) -> str:
    if not value:
        return "-"
    return ", ".join(f"{k}={v}" for k, v in value.items() if k in (
        "email", "role", "subscriptionPlan", "lockedUntil", "failedLoginAttempts", "deleted"))
