"""Run an ASGI fake on 127.0.0.1 in a background thread (FakeGemini, FakeOpenAI and
FakeAnthropic), with the scripted faults and the deliberate connection cut they share."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections import deque
from typing import Any

import uvicorn


class ConnectionCut(Exception):
    """Raised inside a response body iterator to drop the TCP connection.

    uvicorn (h11, 0.54) handles an exception raised after the response started
    by calling ``transport.close()`` without the terminating zero-length chunk,
    so httpx2 raises ``httpx2.RemoteProtocolError`` ("peer closed connection
    without sending complete message body: incomplete chunked read") from the
    SDK's stream iterator (sync and async alike). uvicorn also logs "Exception in
    ASGI application"; `_HideCuts` filters those records out.
    """


def _is_cut(exc: BaseException | None) -> bool:
    """True for a deliberate cut, or a handler cancelled by `FakeGemini.stop()`."""
    if isinstance(exc, (ConnectionCut, asyncio.CancelledError)):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return any(_is_cut(e) for e in exc.exceptions)
    return False


class _HideCuts(logging.Filter):
    """Drops uvicorn's traceback records for deliberate cuts and shutdown cancels."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and _is_cut(record.exc_info[1]))


def _install_log_filter() -> None:
    log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _HideCuts) for f in log.filters):
        log.addFilter(_HideCuts())


class ScriptedFaults:
    """A queue of faults for the next calls ("ok" = none); a non-empty queue wins over the
    x-fake-fault header. Requests are logged for the tests to inspect."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.faults: deque[str] = deque()
        self.requests: list[dict[str, Any]] = []

    def take(self, header: str | None) -> tuple[str, int]:
        """(name, argument) of the next fault, ("", 0) for none; `cut:3` → ("cut", 3)."""
        with self.lock:
            raw = self.faults.popleft() if self.faults else header
        if not raw or raw == "ok":
            return "", 0
        name, _, arg = raw.partition(":")
        return name, int(arg) if arg.isdigit() else 0

    def reset(self) -> None:
        with self.lock:
            self.faults.clear()
            self.requests.clear()


class ThreadedServer:
    """uvicorn serving `app` on a free port of 127.0.0.1 in a daemon thread."""

    label = "fake"

    def __init__(self, app: Any) -> None:
        self.app = app
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    @property
    def origin(self) -> str:
        if self._port is None:
            raise RuntimeError(f"{self.label} is not started")
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> ThreadedServer:
        """Start uvicorn and block until it accepts connections."""
        if self._server is not None:
            return self
        # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted sockets only
        # when sock.proto == IPPROTO_TCP (a plain socket() has proto 0). Without it every
        # keep-alive call stalls ~44 ms on delayed ACK. Linux also inherits the listener's
        # TCP_NODELAY on accept, so set it there too.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            loop="asyncio",
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        _install_log_filter()
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=self.label, daemon=True
        )
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                sock.close()
                raise RuntimeError(f"{self.label} failed to start")
            time.sleep(0.005)
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Stop the server and join its thread."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        # force_exit: do not wait for open keep-alive or stalled connections.
        server.should_exit = server.force_exit = True
        thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def pause(ms: int) -> None:
    """Sleep `ms` milliseconds inside the fake."""
    await asyncio.sleep(ms / 1000)
