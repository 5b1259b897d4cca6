"""The 1 MiB JSON limit is enforced while the body is read, not after.

A declared Content-Length over the limit is refused before a byte is read; a body without one
is counted as it arrives and refused past the limit, so a 200 MB upload neither sits in the
server's memory nor gets read in full.
"""

from __future__ import annotations

import json
import select
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from apsara_core.http.deps import MAX_JSON_BYTES
from tests.http.served import Served

MiB = 1 << 20
LOGIN = b'{"email": "nobody@example.com", "password": "not the password"}'


def padded(size: int) -> bytes:
    """A valid login body of exactly `size` bytes (JSON whitespace after the object)."""
    return LOGIN + b" " * (size - len(LOGIN))


async def pieces(body: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    """`body` as a stream without a Content-Length (chunked)."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def test_the_limit_is_exact_with_and_without_content_length(http: httpx.AsyncClient) -> None:
    headers = {"Content-Type": "application/json"}
    for send in (lambda b: b, pieces):
        at_limit = await http.post(
            "/api/users/login", content=send(padded(MAX_JSON_BYTES)), headers=headers
        )
        assert at_limit.status_code == 401, at_limit.text  # read, parsed, refused as a bad login
        over = await http.post(
            "/api/users/login", content=send(padded(MAX_JSON_BYTES + 1)), headers=headers
        )
        assert over.status_code == 413 and over.json()["code"] == "PAYLOAD_TOO_LARGE"
        assert over.json()["field"] == "body" and over.headers["connection"] == "close"


def _connect(served: Served) -> socket.socket:
    url = urlsplit(served.url)
    sock = socket.create_connection((url.hostname, url.port), timeout=10)
    return sock


def _head(extra: str) -> bytes:
    return (
        f"POST /api/users/login HTTP/1.1\r\nHost: apsara.test\r\n"
        f"Content-Type: application/json\r\n{extra}\r\n"
    ).encode()


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], dict]:
    """Status, headers and JSON body of one response (the server closes after it)."""
    data = b""
    while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < _length(data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, json.loads(body[: _length(data)])


def _length(data: bytes) -> int:
    head = data.partition(b"\r\n\r\n")[0].decode("latin-1").lower()
    for line in head.split("\r\n"):
        if line.startswith("content-length:"):
            return int(line.split(":")[1])
    return 1 << 30


def test_a_declared_200_mb_body_is_refused_before_reading(served: Served) -> None:
    with _connect(served) as sock:
        sock.sendall(_head(f"Content-Length: {200 * MiB}\r\n"))  # and not one byte of body
        status, headers, body = _read_response(sock)
        assert status == 413 and body["code"] == "PAYLOAD_TOO_LARGE" and body["field"] == "body"
        assert headers["connection"] == "close" and sock.recv(1) == b""  # closed after the answer


def _vm(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {key}")


def _reset_peak(pid: int) -> None:
    """Reset the process's peak RSS (VmHWM) to its current RSS (Linux clear_refs 5)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def _send_chunked(sock: socket.socket, total: int) -> int:
    """Send up to `total` bytes as 64 KiB chunks until the server answers or hangs up; the
    number of bytes sent."""
    piece = b" " * (64 * 1024)
    frame = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    sent = 0
    try:
        while sent < total:
            sock.sendall(frame)
            sent += len(piece)
            if select.select([sock], [], [], 0)[0]:
                return sent  # the answer is there
        sock.sendall(b"0\r\n\r\n")  # all of it went in: end the body, let the server answer
    except (BrokenPipeError, ConnectionResetError):
        pass
    return sent


def test_a_200_mb_chunked_body_is_refused_at_the_limit_without_buffering(served: Served) -> None:
    pid = served.proc.pid
    with httpx.Client(base_url=served.url) as client:  # warm up, with a body at the limit
        for _ in range(3):
            assert (
                client.post(
                    "/api/users/login",
                    content=padded(MAX_JSON_BYTES),
                    headers={"Content-Type": "application/json"},
                ).status_code
                == 401
            )
    _reset_peak(pid)
    before = _vm(pid, "VmHWM")
    with _connect(served) as sock:
        sock.sendall(_head("Transfer-Encoding: chunked\r\n"))
        sent = _send_chunked(sock, 200 * MiB)
        try:
            status = _read_response(sock)[0]
        except (ConnectionResetError, json.JSONDecodeError, IndexError):
            status = None  # the server hung up on the rest of the body before we read its 413
    growth = _vm(pid, "VmHWM") - before
    print(
        f"200 MB chunked: sent {sent / MiB:.1f} MiB before the refusal; peak RSS "
        f"{before / MiB:.0f} MiB -> +{growth / MiB:.1f} MiB"
    )
    assert status in (413, None)
    assert sent < 64 * MiB  # reading stopped at the limit (the rest is socket buffers)
    assert growth < 16 * MiB
    assert httpx.get(f"{served.url}/api/health").status_code == 200
