"""A pull-based multipart/form-data reader over a request's body stream.

python-multipart parses pushed bytes and reports parts through callbacks; this reader pulls
one chunk of the body at a time only when the consumer wants more, so a file part streams
straight into storage: at most one network chunk of it is in memory, and reading stops the
moment the consumer stops (a size limit, bad content). Filenames are decoded as UTF-8 with
invalid bytes replaced: they are metadata, never paths.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from python_multipart.multipart import MultipartParser, parse_options_header

from apsara_core.errors import PayloadTooLargeError, UnsupportedMediaTypeError, ValidationError

MAX_FIELD_BYTES = 64 * 1024


@dataclass
class Part:
    """One part's headers: its field name, and filename for a file."""

    name: str
    filename: str | None
    content_type: str | None


class MultipartReader:
    """Parts of a multipart body, each read (or skipped) before the next."""

    def __init__(self, stream: AsyncIterator[bytes], content_type: str) -> None:
        kind, params = parse_options_header(content_type)
        boundary = params.get(b"boundary")
        if kind != b"multipart/form-data":
            raise UnsupportedMediaTypeError(
                "The body must be multipart/form-data", field="Content-Type"
            )
        if not boundary:
            raise ValidationError(
                "The body must be multipart/form-data with a boundary", field="body"
            )
        self._stream, self._events = stream, deque[tuple[str, Any]]()
        self._header_field, self._headers = b"", dict[bytes, bytes]()
        self._done = False
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": lambda: self._headers.clear(),
                "on_header_field": lambda d, s, e: self._field(d[s:e]),
                "on_header_value": lambda d, s, e: self._value(d[s:e]),
                "on_headers_finished": lambda: self._events.append(("part", dict(self._headers))),
                "on_part_data": lambda d, s, e: self._events.append(("data", bytes(d[s:e]))),
                "on_part_end": lambda: self._events.append(("end", None)),
                "on_end": lambda: self._events.append(("finished", None)),
            },
        )

    def _field(self, data: bytes) -> None:
        self._header_field = data.lower()

    def _value(self, data: bytes) -> None:
        self._headers[self._header_field] = self._headers.get(self._header_field, b"") + data

    async def _event(self) -> tuple[str, Any]:
        while not self._events:
            if self._done:
                raise ValidationError(
                    "The multipart body ended in the middle of a part", field="body"
                )
            try:
                chunk = await anext(self._stream)
            except StopAsyncIteration:
                self._done = True
                self._parser.finalize()
                continue
            try:
                self._parser.write(chunk)
            except Exception as exc:  # python-multipart's own parse errors
                raise ValidationError(f"Malformed multipart body: {exc}", field="body") from None
        return self._events.popleft()

    async def next_part(self) -> Part | None:
        """The next part's headers (None after the last part)."""
        while True:
            kind, value = await self._event()
            if kind == "finished":
                return None
            if kind == "part":
                return _part(value)

    async def data(self) -> AsyncIterator[bytes]:
        """The current part's content, chunk by chunk."""
        while True:
            kind, value = await self._event()
            if kind == "end":
                return
            if kind == "data" and value:
                yield value

    async def text(self, name: str) -> str:
        """The current part as a short UTF-8 value.

        Raises:
            PayloadTooLargeError: over 64 KiB.
            ValidationError: not UTF-8.
        """
        buf = bytearray()
        async for chunk in self.data():
            buf += chunk
            if len(buf) > MAX_FIELD_BYTES:
                raise PayloadTooLargeError(f"{name} is over {MAX_FIELD_BYTES} bytes", field=name)
        try:
            return buf.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError(f"{name} is not valid UTF-8", field=name) from None


def _part(headers: dict[bytes, bytes]) -> Part:
    disposition, params = parse_options_header(headers.get(b"content-disposition", b""))
    if disposition != b"form-data" or b"name" not in params:
        raise ValidationError(
            "Every part needs Content-Disposition: form-data with a name", field="body"
        )
    filename = params.get(b"filename")
    ctype = headers.get(b"content-type")
    return Part(
        name=params[b"name"].decode("utf-8", "replace"),
        filename=filename.decode("utf-8", "replace") if filename is not None else None,
        content_type=ctype.decode("latin-1") if ctype else None,
    )
