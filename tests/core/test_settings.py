"""Settings: names of the spec, validation with clear messages, the generated JWT secret."""

from __future__ import annotations

import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from apsara_core.config import Settings
from apsara_core.errors import ConfigError


def test_spec_names_and_aliases(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NODE_ENV", "production")
    monkeypatch.setenv("GEMINI_API_KEY", "gk")
    monkeypatch.setenv("PORT", "8080")
    monkeypatch.setenv("RATE_LIMIT_MAX_REQUESTS", "7")
    s = Settings.load(_env_file=None, data_dir=tmp_path)
    assert s.env == "production"
    assert s.google_ai_api_key is not None and s.google_ai_api_key.get_secret_value() == "gk"
    assert s.port == 8080 and s.rate_limit_max_requests == 7
    assert "gk" not in repr(s)


def test_env_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("GOOGLE_AI_API_KEY=from-file\nJWT_EXPIRES_IN=12h\n")
    monkeypatch.chdir(tmp_path)
    s = Settings.load()
    assert s.google_ai_api_key.get_secret_value() == "from-file"  # type: ignore[union-attr]
    assert s.token_lifetime == timedelta(hours=12)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "0"),
        ("PORT", "http"),
        ("JWT_EXPIRES_IN", "forever"),
        ("JWT_EXPIRES_IN", "0d"),
        ("RATE_LIMIT_WINDOW_MS", "-5"),
        ("APSARA_ENV", "staging"),
        ("APSARA_EMBEDDED_SYNC_ON_COMMIT", "sometimes"),
    ],
)
def test_invalid_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        Settings.load(_env_file=None)
    assert name.lower() in info.value.message.lower() or name in info.value.message


def test_short_jwt_secret_stops_startup(tmp_path: Path) -> None:
    s = Settings.load(_env_file=None, data_dir=tmp_path, jwt_secret="short")
    with pytest.raises(ConfigError, match="JWT_SECRET is 5 bytes; it must be at least 32"):
        s.jwt_key()


def test_generated_secret_is_kept_private_and_stable(tmp_path: Path) -> None:
    s = Settings.load(_env_file=None, data_dir=tmp_path / "d")
    first = s.jwt_key()
    assert len(first) == 32
    path = tmp_path / "d" / "jwt_secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Settings.load(_env_file=None, data_dir=tmp_path / "d").jwt_key() == first


def test_unwritable_data_dir_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    s = Settings.load(_env_file=None, data_dir=blocker / "sub")
    with pytest.raises(ConfigError, match="not writable"):
        s.jwt_key()


def test_empty_values_mean_unset(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MONGODB_URI", "")
    monkeypatch.setenv("JWT_SECRET", "  ")
    s = Settings.load(_env_file=None, data_dir=tmp_path)
    assert s.mongodb_uri is None and s.jwt_secret is None


def test_processes_starting_together_on_a_new_data_dir_all_pass_the_write_check(
    tmp_path: Path,
) -> None:
    """Each process probes with a file of its own: a shared probe name let one starting process
    delete another's probe and fail it with "not writable"."""
    data = tmp_path / "fresh"
    code = (
        "import sys; from pathlib import Path; from apsara_core.config import ensure_data_dir\n"
        "for _ in range(300): ensure_data_dir(Path(sys.argv[1]))\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(data)], stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    errors = [p.communicate(timeout=60)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    assert list(data.iterdir()) == []


def test_trusted_proxies_default_to_none_and_are_validated(tmp_path: Path) -> None:
    assert Settings.load(_env_file=None, data_dir=tmp_path).trusted_proxy_list == []
    s = Settings.load(
        _env_file=None,
        data_dir=tmp_path,
        trusted_proxies=" 127.0.0.1, 10.0.0.0/8 ,::1,192.168.1.7/24",
    )
    assert s.trusted_proxy_list == ["127.0.0.1/32", "10.0.0.0/8", "::1/128", "192.168.1.0/24"]
    for bad in ("*", "localhost", "10.0.0.0/33", "127.0.0.1;10.0.0.1"):
        with pytest.raises(ConfigError) as info:
            Settings.load(_env_file=None, data_dir=tmp_path, trusted_proxies=bad)
        assert info.value.field == "APSARA_TRUSTED_PROXIES"


def test_guest_cap_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert Settings.load(_env_file=None, data_dir=tmp_path).guest_accounts_per_address_per_day == 3
    monkeypatch.setenv("APSARA_GUEST_ACCOUNTS_PER_ADDRESS_PER_DAY", "0")
    with pytest.raises(ConfigError, match="APSARA_GUEST_ACCOUNTS_PER_ADDRESS_PER_DAY"):
        Settings.load(_env_file=None, data_dir=tmp_path)
