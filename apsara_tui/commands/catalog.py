"""The command groups of `apsara`: where each lives and its one-line help.

`apsara --help` lists them from here without importing any of them (a group's module pulls in
the database driver and the core), and each group's Typer app takes its help from here, so the
two never disagree.
"""

from __future__ import annotations

GROUPS: dict[str, tuple[str, str]] = {
    "db": ("apsara_tui.commands.db", "The database: schema info and the embedded server."),
    "user": ("apsara_tui.commands.user", "Users: create, list, show, delete, plan, role, unlock."),
    "auth": (
        "apsara_tui.commands.auth",
        "Sign-up and sign-in: register, verify, login, Google, guest, password reset, logout.",
    ),
    "mail": (
        "apsara_tui.commands.mail",
        "Mail sent by Apsara (the outbox when no SMTP server is set).",
    ),
    "conv": (
        "apsara_tui.commands.conv",
        "Conversations: create, list, show, messages, search, versions, rename, delete, export.",
    ),
    "ai": ("apsara_tui.commands.ai", "Talk to the model: send, edit, regenerate, embed."),
    "file": (
        "apsara_tui.commands.file",
        "Stored files: upload, list, show, delete, download, types.",
    ),
    "stats": ("apsara_tui.commands.stats", "Statistics: the whole database, or one user."),
    "plan": ("apsara_tui.commands.plan", "Subscription plans: model limits and file limits."),
    "provider": (
        "apsara_tui.commands.provider",
        "AI provider instances (OpenAI-compatible, Anthropic): add, list, remove, test.",
    ),
    "plugin": (
        "apsara_tui.commands.plugin",
        "Plugins: list, show, call (sync or as a job), job, jobs, cancel.",
    ),
    "key": ("apsara_tui.commands.key", "Personal API keys: create, list, revoke."),
}


def help_of(group: str) -> str:
    """The one-line help of `group`."""
    return GROUPS[group][1]
