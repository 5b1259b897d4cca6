"""The 21 management actions of the original CLI, as the app offers them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Action:
    """One management action: its number, title, and either a screen or why it is unavailable.

    `screen` is "module:Class" under apsara_tui.screens, imported when first opened.
    """

    number: int
    title: str
    help: str
    screen: str | None = None
    unavailable: str | None = None

    @property
    def enabled(self) -> bool:
        """True when the action can be opened."""
        return self.unavailable is None


ACTIONS: list[Action] = [
    Action(
        1,
        "Create a new conversation",
        "Set up a conversation with a system instruction",
        screen="conversations:CreateConversationScreen",
    ),
    Action(
        2,
        "List all conversations",
        "Conversations across all users, or one user's",
        screen="conversations:ConversationListScreen",
    ),
    Action(
        3,
        "Choose a conversation",
        "Select the active conversation",
        screen="conversations:ChooseConversationScreen",
    ),
    Action(
        4,
        "Send message to AI",
        "Chat with Gemini, streamed live with thoughts",
        screen="chat:ChatScreen",
    ),
    Action(
        5,
        "List messages in conversation",
        "The conversation's history",
        screen="chat:MessagesScreen",
    ),
    Action(
        6,
        "Edit a message",
        "Edit a message and regenerate the reply",
        screen="chat_edit:EditMessageScreen",
    ),
    Action(
        7,
        "Call a plugin",
        "Run a plugin sync or async, optionally answered by the model",
        screen="plugins:PluginScreen",
    ),
    Action(8, "Create a user", "Add a user to the database", screen="users:CreateUserScreen"),
    Action(
        9, "List all users", "Search, filter and page through users", screen="users:UserListScreen"
    ),
    Action(10, "Choose/switch user", "Select the active user", screen="users:ChooseUserScreen"),
    Action(
        11,
        "View schema and database info",
        "Collections, counts, indexes, schema version",
        screen="dbinfo:DatabaseInfoScreen",
    ),
    Action(
        12,
        "Delete user by email/ID",
        "Remove a user and their data",
        screen="delete_user:DeleteUserScreen",
    ),
    Action(
        13,
        "Delete all conversations",
        "Clear all conversation data",
        screen="conversations:DeleteAllConversationsScreen",
    ),
    Action(
        14,
        "Delete specific conversation",
        "Remove one conversation",
        screen="conversations:DeleteConversationScreen",
    ),
    Action(
        15,
        "Full user registration",
        "Register, log in, Google, guest, password reset",
        screen="registration:RegistrationScreen",
    ),
    Action(16, "Logout current user", "End the current session", screen="logout:LogoutScreen"),
    Action(
        17,
        "Database statistics",
        "Usage analytics across users (p: plans)",
        screen="stats:DatabaseStatsScreen",
    ),
    Action(
        18,
        "User-specific statistics",
        "Personal analytics (password protected)",
        screen="stats:UserStatsScreen",
    ),
    Action(
        19,
        "Upload file and analyze with AI",
        "Upload, then describe or question a file (F6: files)",
        screen="files:FileUploadScreen",
    ),
    Action(
        20,
        "Regenerate AI response",
        "Regenerate the last or a chosen reply",
        screen="chat_edit:RegenerateScreen",
    ),
    Action(21, "Exit", "Close Apsara", screen="exit"),
]

BY_NUMBER: dict[int, Action] = {a.number: a for a in ACTIONS}
