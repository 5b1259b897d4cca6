"""`apsara db ...` as a user runs it: JSON output, clean one-line errors, exit codes."""

from __future__ import annotations

import json
import time
from pathlib import Path

from apsara_core.db.schema import SCHEMA_VERSION
from tests.conftest import TEST_SECRET, cli_env, run_cli


def test_db_info_json_on_the_test_database(cli) -> None:
    result = cli("db", "info", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    names = {c["name"] for c in data["collections"]}
    assert {
        "users",
        "user_usage",
        "conversations",
        "messages",
        "files",
        "otps",
        "revoked_tokens",
        "jobs",
        "audit",
    } <= names
    assert data["schemaVersion"] == SCHEMA_VERSION


def test_fresh_data_dir_starts_the_embedded_server_and_db_commands_manage_it(
    tmp_path: Path,
) -> None:
    env = cli_env(APSARA_DATA_DIR=str(tmp_path / "data"), JWT_SECRET=TEST_SECRET)
    try:
        info = run_cli("db", "info", "--json", env=env, cwd=tmp_path)
        assert info.returncode == 0, info.stderr
        data = json.loads(info.stdout)
        assert data["server"]["embedded"] is True
        status = json.loads(run_cli("db", "status", "--json", env=env, cwd=tmp_path).stdout)
        assert status["running"] is True and status["syncOnCommit"] is True  # the default
        assert data["server"]["address"] == f"embedded 127.0.0.1:{status['port']}"
    finally:
        stop = run_cli("db", "stop", env=env, cwd=tmp_path)
    assert stop.returncode == 0 and "stopped" in stop.stdout
    after = run_cli("db", "status", "--json", env=env, cwd=tmp_path)
    assert after.returncode == 0 and after.stdout.strip(), (after.returncode, after.stderr)
    assert json.loads(after.stdout)["running"] is False


def _assert_clean_failure(result, *needles: str) -> None:
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error:")
    for needle in needles:
        assert needle in result.stderr


def test_unreachable_uri_names_host_not_password(tmp_path: Path) -> None:
    env = cli_env(
        MONGODB_URI="mongodb://admin:hunter2secret@127.0.0.1:1/apsara",
        APSARA_DATA_DIR=str(tmp_path),
        JWT_SECRET=TEST_SECRET,
    )
    started = time.monotonic()
    result = run_cli("db", "info", env=env, cwd=tmp_path)
    assert time.monotonic() - started < 15
    _assert_clean_failure(result, "127.0.0.1:1")
    assert "hunter2secret" not in result.stderr + result.stdout


def test_malformed_uri(tmp_path: Path) -> None:
    env = cli_env(
        MONGODB_URI="postgres://nope", APSARA_DATA_DIR=str(tmp_path), JWT_SECRET=TEST_SECRET
    )
    _assert_clean_failure(run_cli("db", "info", env=env, cwd=tmp_path), "MONGODB_URI is malformed")


def test_unwritable_data_dir_and_short_secret(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    env = cli_env(APSARA_DATA_DIR=str(tmp_path / "file" / "data"), JWT_SECRET=TEST_SECRET)
    _assert_clean_failure(run_cli("db", "info", env=env, cwd=tmp_path), "APSARA_DATA_DIR")
    env = cli_env(APSARA_DATA_DIR=str(tmp_path / "d"), JWT_SECRET="tooshort")
    _assert_clean_failure(run_cli("db", "info", env=env, cwd=tmp_path), "JWT_SECRET")


def test_bad_setting_is_one_line(tmp_path: Path) -> None:
    env = cli_env(APSARA_DATA_DIR=str(tmp_path), PORT="http")
    _assert_clean_failure(run_cli("db", "info", env=env, cwd=tmp_path), "PORT")


def test_db_start_starts_the_server_with_the_configured_cache_size(tmp_path: Path) -> None:
    env = cli_env(
        APSARA_DATA_DIR=str(tmp_path / "data"),
        JWT_SECRET=TEST_SECRET,
        APSARA_EMBEDDED_CACHE_SIZE="256M",
    )
    try:
        started = run_cli("db", "start", "--json", env=env, cwd=tmp_path)
        assert started.returncode == 0, started.stderr
        pid = json.loads(started.stdout)["pid"]
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        assert args[args.index(b"--cache-size") + 1] == b"256M"
    finally:
        run_cli("db", "stop", env=env, cwd=tmp_path)
