"""The conversation history sent with each model call, trimmed to a token budget.

Tokens are estimated as characters / 4 (files at a flat 258 tokens, Gemini's per-image
figure). The newest turns are kept first; the system instruction always goes with the request
and its cost comes off the budget first. The prompt (the last message) is always sent.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from typing import Any

from apsara_core.errors import ValidationError
from apsara_core.providers.base import Turn
from apsara_core.services.input_checks import check_unicode

CHARS_PER_TOKEN = 4
FILE_TOKENS = 258
MAX_FILES = 10
URI_SCHEMES = ("gs://", "https://")
TOOL_PREFIX = "[tool result] "


@dataclass
class History:
    """Turns to send plus how many earlier messages went along and how many were trimmed."""

    turns: list[Turn]
    history_messages: int
    trimmed_messages: int


def estimate_tokens(text: str | None) -> int:
    """~chars/4, at least 1 for non-empty text."""
    return -(-len(text or "") // CHARS_PER_TOKEN)


def to_turn(message: dict[str, Any]) -> Turn | None:
    """The model-facing turn of a stored message (None for an empty model reply)."""
    content = message.get("content") or {}
    text = content.get("text") or ""
    if message["role"] == "model":
        if not text:
            return None
        meta = message.get("metadata") or {}
        return Turn(
            "model",
            text,
            thoughts=content.get("thoughts") or "",
            signatures=list(meta.get("thoughtSignatures") or []),
            provider=(meta.get("provider") or {}).get("name"),
        )
    if message["role"] == "tool":
        return Turn("user", TOOL_PREFIX + text)
    return Turn("user", text, list(message.get("files") or []))


def _cost(turn: Turn) -> int:
    return estimate_tokens(turn.text) + FILE_TOKENS * len(turn.files)


def build_history(
    messages: list[dict[str, Any]], *, system_instruction: str | None, budget: int, unread: int = 0
) -> History:
    """Trim ascending `messages` (the last one is the prompt) to `budget` tokens.

    Args:
        messages: the window read from the database, ascending.
        system_instruction: always kept; its cost is taken first.
        budget: tokens available for system instruction + turns.
        unread: older messages outside the window, counted as trimmed.
    """
    turns = [t for t in (to_turn(m) for m in messages) if t is not None]
    if not turns:
        return History([], 0, unread)
    left = budget - estimate_tokens(system_instruction) - _cost(turns[-1])
    kept = [turns[-1]]
    for turn in reversed(turns[:-1]):
        left -= _cost(turn)
        if left < 0:
            break
        kept.append(turn)
    kept.reverse()
    while len(kept) > 1 and kept[0].role == "model":  # Gemini wants a user turn first
        kept.pop(0)
    return History(kept, len(kept) - 1, unread + len(turns) - len(kept))


def parse_files(files: Any) -> list[dict[str, str]]:
    """Stored file ids as {"fileId"} (checked against the owner later, see chat_files.attach);
    gs:// and https:// URIs as {"uri", "mimeType"} (mime type guessed from the extension).

    Raises:
        ValidationError: not a list of at most 10 such ids or URIs.
    """
    if files is None:
        return []
    if not isinstance(files, list) or len(files) > MAX_FILES:
        raise ValidationError(
            f"files must be a list of at most {MAX_FILES} file ids or URIs", field="files"
        )
    out = []
    for i, ref in enumerate(files):
        if isinstance(ref, str) and ref.startswith("file_") and len(ref) <= 100:
            out.append({"fileId": check_unicode(ref, f"files[{i}]")})  # unknown ids: 404 later
            continue
        if not isinstance(ref, str) or not ref.startswith(URI_SCHEMES) or len(ref) > 2048:
            raise ValidationError(
                f"files[{i}] must be a stored file id (file_...), a gs:// or an https:// URI",
                field=f"files[{i}]",
            )
        check_unicode(ref, f"files[{i}]")
        mime = mimetypes.guess_type(ref.split("?", 1)[0])[0] or "application/octet-stream"
        out.append({"uri": ref, "mimeType": mime})
    return out
