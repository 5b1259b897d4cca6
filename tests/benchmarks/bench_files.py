"""Uploading a 1 GiB file to local storage: memory and throughput, each against its baseline
measured in the same run.

(a) through the core (`FileService.upload_paths`), in a child process: peak RSS added by the
    upload (VmHWM reset through /proc/self/clear_refs just before) ≤ 64 MiB, and time against
    `shutil.copyfileobj` of the same file ≤ 1.25x (throughput ≥ 0.8x);
(b) through `POST /api/files/upload` of a real `apsara serve`: the server's added peak RSS
    ≤ 64 MiB, and time against a bare Starlette handler (uvicorn, its own process) writing
    `request.stream()` to disk ≤ 2x (throughput ≥ 0.5x). Both receive the same multipart body
    streamed by httpx.

Every run, ours and the baseline's, ends with its file on the disk (fsync), as a local upload
does before its record is written, and starts after `os.sync()`: without both, a run's time
depended mostly on how many dirty pages earlier runs had left to the kernel (the same copy
took 0.85 s to 4.03 s). Runs alternate, baseline then ours, TRIALS times; the best of each
counts, so a burst of load on the shared machine hits both sides alike. The CPU seconds of
each side are printed too: the upload hashes (SHA-256, ~0.8 s/GiB) where the copy does not,
so on a machine whose cores are busy with other work its ratio rises with the load. Since a
path is staged by a kernel copy (storage/kernel_copy.py: no user-space copy, the hash reads
back into one reused buffer), (a) measured 1.21x (load 0.8) and 0.99x (load 0.8-3.7), against
1.14-1.42x for the block-by-block stream it replaced.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from apsara_core.db.embedded import free_port, spawn, wait_ready
from tests.benchmarks.report import Result
from tests.conftest import TEST_SECRET
from tests.file_samples import mp4

GiB, MiB = 1 << 30, 1 << 20
BOUNDARY = "benchboundary"
TRIALS = 3


def make_source(path: Path, size: int = GiB) -> None:
    """An MP4 header then pseudo-random blocks (so no file system can shortcut zeros)."""
    block = os.urandom(MiB)
    with path.open("wb") as out:
        out.write(mp4())
        left = size - len(mp4())
        while left > 0:
            out.write(block[: min(left, MiB)])
            left -= MiB


def rss_status(pid: int | str = "self") -> dict[str, int]:
    """VmHWM and VmRSS of a process, in bytes."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmHWM:", "VmRSS:")):
            out[line.split(":")[0]] = int(line.split()[1]) * 1024
    return out


def reset_peak(pid: int | str = "self") -> None:
    """Make VmHWM equal to the current RSS (Linux: write 5 to clear_refs)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def _copy(source: str, target: Path) -> float:
    """Seconds `shutil.copyfileobj` takes to copy `source` to disk (1 MiB blocks, then fsync)."""
    os.sync()
    started = time.perf_counter()
    with open(source, "rb") as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst, MiB)
        dst.flush()
        os.fsync(dst.fileno())
    elapsed = time.perf_counter() - started
    target.unlink()
    return elapsed


def child(mongo_uri: str, root: str, source: str) -> None:
    """In a fresh process: open a Core, upload `source` as a user, print the figures."""
    from apsara_core.config import Settings
    from apsara_core.core import open_core
    from apsara_core.models import Principal
    from tests.factories import create_user

    async def main() -> dict[str, float]:
        settings = Settings(
            _env_file=None,
            mongodb_uri=mongo_uri,
            data_dir=Path(root) / "data",
            upload_dir=Path(root) / "uploads",
            jwt_secret=TEST_SECRET,
            env="test",
            bcrypt_rounds=4,
        )
        core = await open_core(settings)
        user = Principal.of_user(await create_user(core, "bench@example.com", plan="premium"))
        await core.files.upload_paths(actor=user, paths=[Path(__file__)])  # warm every path
        reset_peak()
        before = rss_status()["VmRSS"]
        copies, times, cpu = [], [], {"copy": 0.0, "ours": 0.0}
        for _ in range(TRIALS):
            cpu_started = time.process_time()
            copies.append(_copy(source, Path(root) / "copy.bin"))
            cpu["copy"] += time.process_time() - cpu_started
            os.sync()
            started, cpu_started = time.perf_counter(), time.process_time()
            [rec] = await core.files.upload_paths(actor=user, paths=[Path(source)])
            times.append(time.perf_counter() - started)
            cpu["ours"] += time.process_time() - cpu_started
            assert rec["size"] == Path(source).stat().st_size
            await core.files.delete(actor=user, file_id=rec["fileId"])
        added = rss_status()["VmHWM"] - before
        await core.close()
        return {
            "copy_s": min(copies),
            "ours_s": min(times),
            "added_rss": added,
            "copy_cpu_s": cpu["copy"] / TRIALS,
            "ours_cpu_s": cpu["ours"] / TRIALS,
        }

    print(json.dumps(asyncio.run(main())))


def _mongo(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = spawn(":memory:", port, root / "mongo.log", detach=False)
    wait_ready(proc, port, root / "mongo.log")
    return proc, f"mongodb://127.0.0.1:{port}/bench_files"


def _body(source: Path) -> Iterator[bytes]:
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="big.mp4"\r\n'
        f"Content-Type: video/mp4\r\n\r\n"
    ).encode()
    with source.open("rb") as fh:
        while block := fh.read(MiB):
            yield block
    yield f'\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name="storageMethod"\r\n\r\nlocal\r\n--{BOUNDARY}--\r\n'.encode()


def _post(url: str, source: Path, headers: dict[str, str]) -> tuple[float, Any]:
    """Seconds to upload `source` (after `os.sync()`), and the JSON answer."""
    os.sync()
    started = time.perf_counter()
    resp = httpx.post(
        url,
        content=_body(source),
        timeout=600,
        headers={**headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    elapsed = time.perf_counter() - started
    assert resp.status_code in (200, 201), resp.text[:300]
    return elapsed, resp.json()


BARE_APP = """
import os, sys
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
import uvicorn

async def upload(request):
    with open(sys.argv[2], "wb") as out:
        async for chunk in request.stream():
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    os.remove(sys.argv[2])
    return JSONResponse({"ok": True})

uvicorn.run(Starlette(routes=[Route("/upload", upload, methods=["POST"])]), host="127.0.0.1",
            port=int(sys.argv[1]), log_level="warning")
"""


def _wait_http(url: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if proc.poll() is not None:
            raise RuntimeError("server exited")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)


@contextmanager
def _stopping(proc: subprocess.Popen[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(15)


def _bare_server(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", BARE_APP, str(port), str(root / "bare.bin")])
    return proc, f"http://127.0.0.1:{port}"


def _apsara_server(
    root: Path, mongo_uri: str
) -> tuple[subprocess.Popen[bytes], str, dict[str, str]]:
    """A real `apsara serve` with one premium user; the process, its URL and env."""
    env = {
        **os.environ,
        "MONGODB_URI": mongo_uri,
        "APSARA_DATA_DIR": str(root / "sdata"),
        "JWT_SECRET": TEST_SECRET,
        "APSARA_UPLOAD_DIR": str(root / "suploads"),
        "APSARA_BCRYPT_ROUNDS": "4",
        "RATE_LIMIT_MAX_REQUESTS": "100000",
    }
    subprocess.run(
        [sys.executable, "-m", "apsara_tui", "user", "create", "--email", "up@example.com",
         "--name", "Up", "--password", PASSWORD, "--plan", "premium", "--verified"],
        env=env,
        check=True,
        capture_output=True,
    )  # fmt: skip
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "apsara_tui", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return proc, f"http://127.0.0.1:{port}", env


PASSWORD = "correct horse battery staple"


def _http(root: Path, mongo_uri: str, source: Path) -> tuple[float, float, int]:
    """Best bare and best served upload times (alternating), and the server's added peak RSS."""
    bare_proc, bare_url = _bare_server(root)
    with _stopping(bare_proc):
        served_proc, url, _ = _apsara_server(root, mongo_uri)
        with _stopping(served_proc):
            _wait_http(f"{bare_url}/", bare_proc)
            _wait_http(f"{url}/api/health", served_proc)
            token = httpx.post(
                f"{url}/api/users/login", json={"email": "up@example.com", "password": PASSWORD}
            ).json()["token"]
            auth = {"Authorization": f"Bearer {token}"}
            small = root / "warm.mp4"
            make_source(small, 2 * MiB)
            _post(f"{bare_url}/upload", small, {})
            _post(f"{url}/api/files/upload", small, auth)  # warm every path
            reset_peak(served_proc.pid)
            before = rss_status(served_proc.pid)["VmRSS"]
            bare, ours = [], []
            for _ in range(TRIALS):
                bare.append(_post(f"{bare_url}/upload", source, {})[0])
                elapsed, body = _post(f"{url}/api/files/upload", source, auth)
                ours.append(elapsed)
                for rec in body["files"]:  # keep the disk and the allowance free
                    httpx.delete(f"{url}/api/files/{rec['fileId']}", headers=auth)
            added = rss_status(served_proc.pid)["VmHWM"] - before
    return min(bare), min(ours), added


def run() -> list[Result]:
    """Both comparisons on one 1 GiB file."""
    with tempfile.TemporaryDirectory(prefix="bench-files-", dir=os.environ.get("BENCH_DIR")) as tmp:
        root = Path(tmp)
        source = root / "big.mp4"
        make_source(source)
        mongo, uri = _mongo(root)
        try:
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "tests.benchmarks.bench_files",
                    "child",
                    uri,
                    str(root / "core"),
                    str(source),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            core = json.loads(out.stdout.strip().splitlines()[-1])
            bare_s, http_s, http_rss = _http(root, uri + "_http", source)
        finally:
            mongo.terminate()
            mongo.wait(15)
    return [
        Result(
            f"core upload 1 GiB local (copyfileobj {core['copy_s']:.2f} s; CPU "
            f"{core['ours_cpu_s']:.2f} s vs {core['copy_cpu_s']:.2f} s)",
            core["ours_s"],
            "s",
            core["ours_s"] / core["copy_s"],
            1.25,
        ),
        Result(
            "core upload: peak RSS added (goal <= 64 MiB)",
            core["added_rss"] / MiB,
            "MiB",
            core["added_rss"] / (64 * MiB),
            1.0,
        ),
        Result(
            f"POST /api/files/upload 1 GiB (bare Starlette {bare_s:.2f} s)",
            http_s,
            "s",
            http_s / bare_s,
            2.0,
        ),
        Result(
            "POST /api/files/upload: server peak RSS added (goal <= 64 MiB)",
            http_rss / MiB,
            "MiB",
            http_rss / (64 * MiB),
            1.0,
        ),
    ]


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        child(*sys.argv[2:5])
    else:
        for result in run():
            print(result.line(), flush=True)
