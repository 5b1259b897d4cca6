"""The operator's session token, kept in `<data dir>/session.json` with mode 0600.

`apsara auth login` writes it, `apsara auth logout` deletes it; the CLI and the app read it
to know the logged-in user.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from apsara_core.config import ensure_data_dir

FILE_NAME = "session.json"


@dataclass(frozen=True)
class StoredSession:
    """A token and whom it belongs to (for display; the token is always verified)."""

    token: str
    user_id: str
    email: str | None = None


def session_path(data_dir: Path) -> Path:
    """Where the session file lives."""
    return data_dir / FILE_NAME


def read_session(data_dir: Path) -> StoredSession | None:
    """The stored session, or None when there is none (or it is unreadable)."""
    try:
        return StoredSession(**json.loads(session_path(data_dir).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def write_session(data_dir: Path, session: StoredSession) -> Path:
    """Store the session with mode 0600 (created private, then atomically renamed)."""
    path = session_path(ensure_data_dir(data_dir))
    tmp = path.with_name(f".{FILE_NAME}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(asdict(session), fh)
    os.replace(tmp, path)
    return path


def delete_session(data_dir: Path) -> bool:
    """Remove the session file; False when there was none."""
    try:
        session_path(data_dir).unlink()
        return True
    except FileNotFoundError:
        return False
