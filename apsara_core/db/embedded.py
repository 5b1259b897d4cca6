"""The embedded MongoDB-wire server: SecantusDB's `secantusd-py`, run as its own process.

One server serves one data dir. Its address and pid are recorded in
`<data dir>/embedded-db.json`; every Apsara process on the same data dir reuses it (a file
lock makes the start race-free), and it outlives the process that started it, so killing one
Apsara process leaves the others working. A killed server is started again on next use.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from apsara_core.config import Settings, ensure_data_dir
from apsara_core.errors import DatabaseUnavailableError

log = logging.getLogger(__name__)

EXECUTABLE = "secantusd-py"
START_TIMEOUT_S = 15.0
PR_SET_PDEATHSIG = 1
DEFAULT_SYNC_ON_COMMIT: bool = Settings.model_fields["embedded_sync_on_commit"].default
DEFAULT_CACHE_SIZE: str = Settings.model_fields["embedded_cache_size"].default


@dataclass(frozen=True)
class ServerState:
    """Where a running embedded server listens."""

    host: str
    port: int
    pid: int
    storage_path: str
    sync_on_commit: bool = False  # absent from the records of older versions: they never set it
    cache_size: str = DEFAULT_CACHE_SIZE  # absent from older records: they used the default

    @property
    def uri(self) -> str:
        """The MongoDB URI of this server (database `apsara`)."""
        return f"mongodb://{self.host}:{self.port}/apsara"


def find_executable() -> str:
    """Locate `secantusd-py` next to this interpreter or on PATH.

    Raises:
        DatabaseUnavailableError: when it is not installed.
    """
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    found = shutil.which(EXECUTABLE, path=search)
    if not found:
        raise DatabaseUnavailableError(
            f"The embedded database server '{EXECUTABLE}' is not installed",
            suggestions=[
                "Install Apsara with `make run` (or `pip install SecantusDB`)",
                "Or set MONGODB_URI to a MongoDB server",
            ],
        )
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _die_with_parent() -> None:
    """In the child, before exec: be killed when the parent dies (Linux; elsewhere a no-op)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def spawn(
    storage_path: str,
    port: int,
    log_path: Path,
    *,
    detach: bool,
    sync_on_commit: bool = False,
    cache_size: str | None = None,
) -> subprocess.Popen[bytes]:
    """Start `secantusd-py` on 127.0.0.1:port; the caller waits for it with `wait_ready`.

    `detach` keeps the server running after its parent (the app's shared server); otherwise
    it is killed with its parent (tests and benchmarks), so a killed run leaves no server.
    `sync_on_commit` passes `--sync-on-commit`: every commit, transactions included, is
    fsynced before it is acknowledged (APSARA_EMBEDDED_SYNC_ON_COMMIT; see the README).
    `cache_size` passes `--cache-size` (APSARA_EMBEDDED_CACHE_SIZE; the server's own default
    when None).
    """
    args = [
        find_executable(),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--storage-path",
        storage_path,
        "--log-level",
        "WARNING",
    ]
    if sync_on_commit:
        args.append("--sync-on-commit")
    if cache_size is not None:
        args += ["--cache-size", cache_size]
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child, closed below
    try:
        return subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=log_path.parent,
            start_new_session=detach,
            preexec_fn=None if detach or sys.platform != "linux" else _die_with_parent,
        )
    finally:
        log.close()


def wait_ready(proc: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    """Wait until the server accepts connections.

    Raises:
        DatabaseUnavailableError: with the server's last log line when it exits or hangs.
    """
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DatabaseUnavailableError(
                f"The embedded database server exited at start: {_last_line(log_path)}",
                suggestions=[f"See {log_path}", "Or set MONGODB_URI to a MongoDB server"],
            )
        if port_open("127.0.0.1", port, timeout=0.2):
            return
        time.sleep(0.05)
    proc.kill()
    raise DatabaseUnavailableError(
        f"The embedded database server did not answer within {START_TIMEOUT_S:.0f} s",
        suggestions=[f"See {log_path}"],
    )


def _last_line(path: Path) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "no log"
    return lines[-1][:300] if lines else "no output"


def _pid_is_server(pid: int) -> bool:
    """True when pid is a live (not zombie) secantusd process."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.parent.exists():
        try:
            return b"secantusd" in cmdline.read_bytes()
        except OSError:
            return False
    return True


class EmbeddedServer:
    """Manages the embedded server that belongs to one data dir.

    `sync_on_commit` is how a server started here runs (APSARA_EMBEDDED_SYNC_ON_COMMIT); a
    running server is reused as it is, and keeps its own until it is stopped.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        sync_on_commit: bool = DEFAULT_SYNC_ON_COMMIT,
        cache_size: str = DEFAULT_CACHE_SIZE,
    ) -> None:
        self.data_dir = data_dir
        self.sync_on_commit = sync_on_commit
        self.cache_size = cache_size
        self.storage = data_dir / "db"
        self.state_path = data_dir / "embedded-db.json"
        self.log_path = data_dir / "embedded-db.log"
        self._lock_path = data_dir / "embedded-db.lock"

    @classmethod
    def from_settings(cls, settings: Settings) -> EmbeddedServer:
        """The server of the settings' data dir, started (when it is) as they say."""
        return cls(
            settings.data_dir,
            sync_on_commit=settings.embedded_sync_on_commit,
            cache_size=settings.embedded_cache_size,
        )

    def status(self) -> ServerState | None:
        """The running server's state, or None when none is running."""
        try:
            state = ServerState(**json.loads(self.state_path.read_text()))
        except (OSError, ValueError, TypeError):
            return None
        if _pid_is_server(state.pid) and port_open(state.host, state.port):
            return state
        return None

    def ensure_running(self) -> ServerState:
        """Reuse the running server or start one; safe when several processes race.

        Raises:
            DatabaseUnavailableError: the server cannot be started.
            ConfigError: the data dir is not writable.
        """
        state = self.status()
        if state:
            return self._reused(state)
        ensure_data_dir(self.data_dir)
        with self._locked():
            state = self.status()
            if state:
                return self._reused(state)
            return self._start()

    def _reused(self, state: ServerState) -> ServerState:
        if state.sync_on_commit != self.sync_on_commit:
            log.warning(
                "The embedded server runs %s --sync-on-commit; "
                "APSARA_EMBEDDED_SYNC_ON_COMMIT applies when it next starts "
                "(apsara db stop)",
                "with" if state.sync_on_commit else "without",
            )
        if state.cache_size != self.cache_size:
            log.warning(
                "The embedded server runs with --cache-size %s; APSARA_EMBEDDED_CACHE_SIZE "
                "(%s) applies when it next starts (apsara db stop)",
                state.cache_size,
                self.cache_size,
            )
        return state

    def _start(self, port: int | None = None) -> ServerState:
        """Start a server (the caller holds the lock) on `port`, or on a free port when None."""
        self.storage.mkdir(parents=True, exist_ok=True)
        last_error: DatabaseUnavailableError | None = None
        for _ in range(3 if port is None else 25):
            chosen = port or free_port()
            proc = spawn(
                str(self.storage),
                chosen,
                self.log_path,
                detach=True,
                sync_on_commit=self.sync_on_commit,
                cache_size=self.cache_size,
            )
            try:
                wait_ready(proc, chosen, self.log_path)
            except DatabaseUnavailableError as exc:
                last_error = exc
                if "in use" in exc.message.lower():
                    # another free port; or, for a fixed port, the old server's socket a moment
                    time.sleep(0 if port is None else 0.2)
                    continue
                raise
            state = ServerState(
                "127.0.0.1",
                chosen,
                proc.pid,
                str(self.storage),
                self.sync_on_commit,
                self.cache_size,
            )
            tmp = self.state_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(asdict(state)))
            tmp.replace(self.state_path)
            return state
        assert last_error is not None
        raise last_error

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop the running server (SIGTERM, then SIGKILL after `timeout`); False when none ran.

        With --sync-on-commit (the default) every acknowledged write was flushed first, so
        even the forced stop loses none; without it a kill can lose acknowledged
        transactions (measured: tests/stress/durability.py).
        """
        with self._locked():
            state = self.status()
            self.state_path.unlink(missing_ok=True)
            if not state:
                return False
            _terminate(state.pid, timeout)
            return True

    def restart(self, pid: int, timeout: float = 5.0) -> ServerState | None:
        """Stop the server whose pid is `pid` and start it again on the same port, with the
        settings it ran with, so every client reconnects to it (db/recycle.py).

        Returns:
            The new server's state; None when `pid` no longer runs it (another process
            restarted or stopped it first).
        """
        with self._locked():
            state = self.status()
            if state is None or state.pid != pid:
                return None
            _terminate(state.pid, timeout)
            again = EmbeddedServer(
                self.data_dir, sync_on_commit=state.sync_on_commit, cache_size=state.cache_size
            )
            return again._start(port=state.port)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        ensure_data_dir(self.data_dir)
        with open(self._lock_path, "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)


def _terminate(pid: int, timeout: float) -> None:
    """SIGTERM the server, then SIGKILL it after `timeout` seconds; return once it is gone."""
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _pid_is_server(pid) and time.monotonic() < deadline:
        _reap(pid)
        time.sleep(0.05)
    if _pid_is_server(pid):
        os.kill(pid, signal.SIGKILL)
    _reap(pid)


def _reap(pid: int) -> None:
    """Collect the exit status when the server is our own child (avoids a zombie)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
