"""A provider declaration's checks (services/provider_catalog.check_instance): each bad value
is refused with the field named and what was expected; nothing is stored (the CLI's
test_provider_cli proves that end to end)."""

from __future__ import annotations

import pytest

from apsara_core.errors import ValidationError
from apsara_core.services.provider_catalog import check_instance


def _declare(**overrides: object) -> object:
    fields: dict[str, object] = {
        "name": "local",
        "kind": "openai",
        "base_url": "http://127.0.0.1:11434/v1",
        "api_key_env": None,
        "api_key_file": None,
        "models": ["llama3.2"],
    }
    fields.update(overrides)
    return check_instance(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://h/v1", "an http:// or https:// URL"),
        ("http://", "an http:// or https:// URL"),
        ("localhost:8000", "an http:// or https:// URL"),
        ("http://host name/v1", "an http:// or https:// URL"),
        ("http://h/v1\n", "an http:// or https:// URL"),
        ("http://h:99999/v1", "no valid port"),
        ("http://h:0/v1", "no valid port"),
        ("http://h:port/v1", "no valid port"),
        ("http://key:secret@h/v1", "must not hold credentials"),
        ("http://" + "a" * 3000, "at most 2048 characters"),
        (12, "an http:// or https:// URL"),
    ],
)
def test_a_bad_base_url_is_refused_naming_it(url: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as caught:
        _declare(base_url=url)
    assert caught.value.field == "baseUrl"


def test_a_credential_in_the_url_points_at_the_key_options() -> None:
    with pytest.raises(ValidationError) as caught:
        _declare(base_url="https://sk-123@api.example.com/v1")
    assert "secret" not in caught.value.message and "--api-key-env" in caught.value.suggestions[0]


def test_good_base_urls_are_kept_without_a_trailing_slash() -> None:
    for url, kept in [
        ("http://127.0.0.1:11434/v1/", "http://127.0.0.1:11434/v1"),
        ("https://api.openai.com/v1", "https://api.openai.com/v1"),
        ("https://[::1]:8000/v1", "https://[::1]:8000/v1"),
        ("https://h/v1?api-version=2024-06-01", "https://h/v1?api-version=2024-06-01"),
    ]:
        assert _declare(base_url=url).base_url == kept  # type: ignore[attr-defined]


@pytest.mark.parametrize("window", ["-5", "12", "lots", "", "100000001"])
def test_a_bad_context_window_says_the_range(window: str) -> None:
    with pytest.raises(ValidationError, match="window must be a whole number of tokens") as e:
        _declare(models=[f"llama3.2,window={window}"])
    assert e.value.field == "models[0]"
