"""Pure helpers for the fake Gemini server: request parsing and response bodies.

Nothing here does I/O; `gemini_server.py` wires these into HTTP routes.
Request bodies may use camelCase or snake_case keys (the SDK mixes both), so
every lookup goes through `pick`.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")

ERROR_STATUS: dict[int, tuple[str, str]] = {
    400: ("INVALID_ARGUMENT", "Request contains an invalid argument."),
    401: ("UNAUTHENTICATED", "Request had invalid authentication credentials."),
    403: ("PERMISSION_DENIED", "The caller does not have permission"),
    404: ("NOT_FOUND", "Requested entity was not found."),
    408: ("DEADLINE_EXCEEDED", "Request timed out."),
    409: ("ABORTED", "The request was aborted."),
    429: ("RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
    500: ("INTERNAL", "An internal error has occurred. Please retry or report."),
    503: ("UNAVAILABLE", "The model is overloaded. Please try again later."),
    504: ("DEADLINE_EXCEEDED", "The service is currently unavailable (deadline)."),
}


def pick(d: Any, camel: str, default: Any = None) -> Any:
    """Returns d[camel] or d[snake_case(camel)], else default."""
    if not isinstance(d, dict):
        return default
    if camel in d:
        return d[camel]
    snake = _SNAKE.sub("_", camel).lower()
    return d.get(snake, default)


def error_body(code: int, message: str | None = None, status: str | None = None) -> dict[str, Any]:
    """Google-style error JSON: {"error": {"code", "message", "status"}}."""
    default_status, default_msg = ERROR_STATUS.get(code, ("UNKNOWN", "Unknown error."))
    err: dict[str, Any] = {
        "code": code,
        "message": message or default_msg,
        "status": status or default_status,
    }
    if code == 429:
        err["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}]
    return {"error": err}


Fault = tuple[str, int]


def parse_fault(value: str | None, flaky: dict[str, int]) -> Fault | None:
    """ "cut:3" -> ("cut", 3); None for no fault or "ok". `flaky:N[:tag]` counts calls per
    distinct value in `flaky` and becomes ("503", 0) for the first N of them."""
    value = (value or "").strip()
    if not value or value == "ok":
        return None
    name, _, arg = value.partition(":")
    if name == "flaky":
        flaky[value] = flaky.get(value, 0) + 1
        return ("503", 0) if flaky[value] <= to_int(arg.split(":")[0]) else None
    return name, to_int(arg)


def parse_json(raw: bytes) -> tuple[Any, bool]:
    """(parsed body or None when empty, ok)."""
    if not raw:
        return None, True
    try:
        return json.loads(raw), True
    except ValueError:
        return None, False


def words(text: str) -> int:
    """Word count used as the fake token count."""
    return len(text.split())


# --------------------------------------------------------------------------- requests


def part_text(part: Any) -> str:
    """Text of one part; function responses render as `name -> json`."""
    if not isinstance(part, dict):
        return ""
    text = pick(part, "text")
    if isinstance(text, str):
        return text
    fr = pick(part, "functionResponse")
    if isinstance(fr, dict):
        return f"{fr.get('name', '')} -> {json.dumps(fr.get('response', {}), sort_keys=True)}"
    return ""


def content_text(content: Any) -> str:
    """Joined text of a Content (or a bare string)."""
    if isinstance(content, str):
        return content
    parts = pick(content, "parts") or []
    return " ".join(t for t in (part_text(p) for p in parts if not pick(p, "thought")) if t)


_FILE_REF = re.compile(r"(?:^|/)files/([^/?#]+)$")


def file_ids(contents: list[Any]) -> list[str]:
    """Ids of the Files API files (`.../files/<id>` uris) referenced by fileData parts."""
    ids: list[str] = []
    for content in contents:
        for part in pick(content, "parts") or []:
            uri = pick(pick(part, "fileData"), "fileUri")
            m = _FILE_REF.search(uri) if isinstance(uri, str) else None
            if m:
                ids.append(m.group(1))
    return ids


def no_file_message(file_id: str) -> str:
    """Google's 403 message for a missing or foreign file."""
    return f"You do not have permission to access the File {file_id} or it may not exist."


def sse(event: dict[str, Any]) -> bytes:
    """One server-sent event: exactly `data: <json>` and a blank line."""
    return b"data: " + json.dumps(event, separators=(",", ":")).encode() + b"\n\n"


@dataclass
class Prompt:
    """What the fake needs from a generateContent body."""

    contents: list[Any]
    system: str
    include_thoughts: bool

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> Prompt:
        contents = pick(body, "contents") or []
        if isinstance(contents, dict):
            contents = [contents]
        system = pick(body, "systemInstruction")
        thinking = pick(pick(body, "generationConfig") or {}, "thinkingConfig") or {}
        return cls(
            contents=list(contents),
            system=content_text(system) if system else "",
            include_thoughts=bool(pick(thinking, "includeThoughts")),
        )

    @property
    def last_user_text(self) -> str:
        for content in reversed(self.contents):
            if pick(content, "role") in (None, "user"):
                return content_text(content)
        return ""

    @property
    def prompt_tokens(self) -> int:
        return sum(words(content_text(c)) for c in self.contents) + words(self.system)


def parse_calls(text: str) -> list[tuple[str, dict[str, Any]]]:
    """Finds `CALL:name({json})` markers; invalid JSON args become {"raw": ...}."""
    calls: list[tuple[str, dict[str, Any]]] = []
    decoder = json.JSONDecoder()
    for m in re.finditer(r"CALL:([A-Za-z_][\w.-]*)\(", text):
        rest = text[m.end() :]
        try:
            args, end = decoder.raw_decode(rest)
            if not isinstance(args, dict):
                args = {"value": args}
        except json.JSONDecodeError:
            end = rest.find(")")
            end = len(rest) if end < 0 else end
            raw = rest[:end].strip()
            args = {"raw": raw} if raw else {}
        calls.append((m.group(1), args))
    return calls


# --------------------------------------------------------------------------- answers


@dataclass
class Answer:
    """A planned model answer: thoughts, text pieces or function-call parts."""

    prompt_tokens: int
    thoughts: list[str] = field(default_factory=list)
    pieces: list[str] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.pieces)


def reply_text(prompt: Prompt) -> str:
    """`[sys:..] Echo: <last user text> (turns=N)`."""
    prefix = f"[sys:{prompt.system[:40]}] " if prompt.system else ""
    return f"{prefix}Echo: {prompt.last_user_text} (turns={len(prompt.contents)})"


def split_pieces(text: str, n: int | None) -> list[str]:
    """Splits text into n pieces (default min(words, 5)), padding with `wK` words."""
    tokens = re.findall(r"\s*\S+\s*", text) or [text]
    if n is None:
        n = max(1, min(len(tokens), 5))
    k = 1
    while len(tokens) < n:
        if not tokens[-1].endswith(" "):
            tokens[-1] += " "
        tokens.append(f"w{k}")
        k += 1
    base, extra = divmod(len(tokens), n)
    out: list[str] = []
    i = 0
    for j in range(n):
        size = base + (1 if j < extra else 0)
        out.append("".join(tokens[i : i + size]))
        i += size
    return out


def plan_answer(prompt: Prompt, chunks: int | None) -> Answer:
    """Builds the deterministic answer for a prompt."""
    ans = Answer(prompt_tokens=prompt.prompt_tokens)
    last = prompt.last_user_text
    if prompt.include_thoughts:
        thought = f"Thinking about: {last}"
        ans.thoughts = split_pieces(thought, 2 if words(thought) >= 2 else 1)
    calls = parse_calls(last)
    if calls:
        for i, (name, args) in enumerate(calls, start=1):
            part: dict[str, Any] = {"functionCall": {"id": f"fc_{i}", "name": name, "args": args}}
            if i == 1:
                sig = base64.b64encode(f"sig:{name}:{json.dumps(args, sort_keys=True)}".encode())
                part["thoughtSignature"] = sig.decode()
            ans.calls.append(part)
        return ans
    ans.pieces = split_pieces(reply_text(prompt), chunks)
    return ans


def usage(prompt_tokens: int, cand: int, thoughts: int) -> dict[str, int]:
    """usageMetadata with totals; thoughtsTokenCount omitted when zero."""
    u = {"promptTokenCount": prompt_tokens, "candidatesTokenCount": cand}
    if thoughts:
        u["thoughtsTokenCount"] = thoughts
    u["totalTokenCount"] = prompt_tokens + cand + thoughts
    return u


def response_body(
    model: str,
    response_id: str,
    parts: list[dict[str, Any]],
    prompt_tokens: int,
    cand: int,
    thoughts: int,
    finish: str | None,
) -> dict[str, Any]:
    """One GenerateContentResponse (full answer or a stream delta)."""
    cand_obj: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish:
        cand_obj["finishReason"] = finish
    return {
        "candidates": [cand_obj],
        "usageMetadata": usage(prompt_tokens, cand, thoughts),
        "modelVersion": model,
        "responseId": response_id,
    }


def full_response(
    ans: Answer, model: str, response_id: str, finish: str | None = "STOP"
) -> dict[str, Any]:
    """Non-streaming answer."""
    parts: list[dict[str, Any]] = []
    thought = "".join(ans.thoughts)
    if thought:
        parts.append({"text": thought, "thought": True})
    parts.extend(ans.calls)
    if ans.pieces:
        parts.append({"text": ans.text})
    return response_body(
        model, response_id, parts, ans.prompt_tokens, words(ans.text), words(thought), finish
    )


def stream_events(
    ans: Answer, model: str, response_id: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Returns (thought events, answer events); usage is a running total and
    finishReason STOP sits on the last answer event only."""
    thought_events: list[dict[str, Any]] = []
    seen_thought = ""
    for t in ans.thoughts:
        seen_thought += t
        thought_events.append(
            response_body(
                model,
                response_id,
                [{"text": t, "thought": True}],
                ans.prompt_tokens,
                0,
                words(seen_thought),
                None,
            )
        )
    tt = words(seen_thought)
    answer_events: list[dict[str, Any]] = []
    if ans.calls:
        answer_events.append(
            response_body(model, response_id, ans.calls, ans.prompt_tokens, 0, tt, None)
        )
    seen = ""
    for piece in ans.pieces:
        seen += piece
        answer_events.append(
            response_body(
                model, response_id, [{"text": piece}], ans.prompt_tokens, words(seen), tt, None
            )
        )
    if answer_events:
        answer_events[-1]["candidates"][0]["finishReason"] = "STOP"
    return thought_events, answer_events


def blocked_response(model: str, response_id: str, prompt_tokens: int) -> dict[str, Any]:
    """A prompt blocked for safety: promptFeedback and no candidates."""
    return {
        "promptFeedback": {"blockReason": "SAFETY"},
        "usageMetadata": usage(prompt_tokens, 0, 0),
        "modelVersion": model,
        "responseId": response_id,
    }


def safety_finish_response(model: str, response_id: str, prompt_tokens: int) -> dict[str, Any]:
    """A candidate stopped for safety, with no content."""
    return {
        "candidates": [
            {
                "finishReason": "SAFETY",
                "index": 0,
                "safetyRatings": [
                    {
                        "category": "HARM_CATEGORY_DANGEROUS_CONTENT",
                        "probability": "HIGH",
                        "blocked": True,
                    }
                ],
            }
        ],
        "usageMetadata": usage(prompt_tokens, 0, 0),
        "modelVersion": model,
        "responseId": response_id,
    }


# --------------------------------------------------------------------------- embeddings


def embedding(text: str, dims: int) -> list[float]:
    """Deterministic unit vector of length dims derived from sha256(text)."""
    raw: list[float] = []
    counter = 0
    while len(raw) < dims:
        digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        raw.extend(b / 127.5 - 1.0 for b in digest)
        counter += 1
    raw = raw[:dims]
    norm = math.sqrt(sum(v * v for v in raw)) or 1.0
    return [round(v / norm, 6) for v in raw]


def embed_one(req: dict[str, Any], default_dims: int | None = None) -> dict[str, Any]:
    """{"values": [...]} for one EmbedContentRequest."""
    dims = pick(req, "outputDimensionality") or default_dims or 8
    return {"values": embedding(content_text(pick(req, "content") or {}), int(dims))}


# --------------------------------------------------------------------------- files


def rfc3339(t: dt.datetime) -> str:
    """UTC timestamp the way Google writes it."""
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class StoredFile:
    """An uploaded file kept in memory."""

    file_id: str
    display_name: str | None
    mime_type: str
    data: bytes
    created: dt.datetime
    state: str = "ACTIVE"
    gets: int = 0

    def resource(self, base_url: str) -> dict[str, Any]:
        """The File resource as the Files API returns it."""
        res: dict[str, Any] = {
            "name": f"files/{self.file_id}",
            "mimeType": self.mime_type,
            "sizeBytes": str(len(self.data)),
            "createTime": rfc3339(self.created),
            "updateTime": rfc3339(self.created),
            "expirationTime": rfc3339(self.created + dt.timedelta(hours=48)),
            "sha256Hash": base64.b64encode(hashlib.sha256(self.data).digest()).decode(),
            "uri": f"{base_url}/v1beta/files/{self.file_id}",
            "state": self.state,
            "source": "UPLOADED",
        }
        if self.display_name:
            res["displayName"] = self.display_name
        return res


@dataclass
class PendingUpload:
    """A resumable upload session between start and finalize."""

    file_id: str
    display_name: str | None
    mime_type: str
    size: int
    data: bytearray = field(default_factory=bytearray)

    def finish(self) -> StoredFile:
        """The stored file; video/* starts PROCESSING (ACTIVE after 2 GETs)."""
        return StoredFile(
            file_id=self.file_id,
            display_name=self.display_name,
            mime_type=self.mime_type,
            data=bytes(self.data),
            created=dt.datetime.now(dt.UTC),
            state="PROCESSING" if self.mime_type.startswith("video/") else "ACTIVE",
        )


def to_int(text: Any, default: int = 0) -> int:
    """int(text), or default when it is missing or malformed."""
    try:
        return int(str(text).strip())
    except (TypeError, ValueError):
        return default
