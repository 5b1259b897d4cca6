"""The domain's words, defined once: roles, plans, sign-in providers, default models, limits.

Every layer (services, HTTP bodies, the app's forms and lists, the command line's help) reads
them from here. They are plain strings, so stored documents and JSON answers are unchanged.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

Role = Literal["user", "admin", "guest"]
Plan = Literal["guest", "free", "premium"]  # in upgrade order
AuthProvider = Literal["local", "google", "guest"]
ProviderKind = Literal["openai", "anthropic"]  # declared instances; "google" is built in

ROLES: Final[tuple[Role, ...]] = get_args(Role)
PLANS: Final[tuple[Plan, ...]] = get_args(Plan)
PROVIDER_KINDS: Final[tuple[ProviderKind, ...]] = get_args(ProviderKind)
BUILTIN_PROVIDER: Final = "google"
AUTH_PROVIDERS: Final[tuple[AuthProvider, ...]] = get_args(AuthProvider)
# Guests keep role and plan "guest" until they register: an admin can set neither.
ASSIGNABLE_ROLES: Final[tuple[Role, ...]] = ("user", "admin")
ASSIGNABLE_PLANS: Final[tuple[Plan, ...]] = ("free", "premium")

DEFAULT_MODEL: Final = "gemini-2.5-flash"
PRO_MODEL: Final = "gemini-2.5-pro"
DEFAULT_EMBEDDING_MODEL: Final = "gemini-embedding-001"
CHAT_MODELS: Final = (DEFAULT_MODEL, PRO_MODEL)
"""The generation models the seeded plans include (offered before a plan's quota is known)."""

PASSWORD_MIN_LENGTH: Final = 8  # OWASP ASVS 5: 6.2.1, 6.2.9 (see notes/security.md)
PASSWORD_MAX_LENGTH: Final = 128
EMAIL_MAX_LENGTH: Final = 254  # RFC 5321's path limit
FULL_NAME_MAX_LENGTH: Final = 100
TITLE_MAX_LENGTH: Final = 200
CLIENT_KEY_MAX_LENGTH: Final = 200
