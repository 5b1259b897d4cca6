"""The OpenAPI contract, checked by schemathesis against a live `apsara serve` (the real app
under uvicorn, talking to the fake Gemini): fixed seed, positive and negative data, a valid
token. No 5xx, no response outside its declared schema, no undocumented status, Allow on every
405, and protected routes refuse a missing or bad token.

The default run makes a few examples per operation, with a guest's token and with a registered
member's; `-m slow` runs a deeper one with each."""

from __future__ import annotations

import re
from uuid import uuid4

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from pymongo import MongoClient
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.http.served import Served

# Google sign-in answers 503 on a server without GOOGLE_CLIENT_ID (its configuration, not the
# client's fault); its refusals are covered in test_http_statuses.py.
UNCONFIGURED = {"/api/users/google-auth"}
# A code or reset token is right only when it is the one mailed, an address valid only when
# RFC rules and special-use names allow it: beyond what a schema can say, so these answer a
# well-formed but wrong value with 400 (as the original does).
MAILED_SECRETS = {
    "/api/users/register",
    "/api/users/verify-email",
    "/api/users/resend-otp",
    "/api/users/login",
    "/api/users/forgot-password",
    "/api/users/verify-reset-otp",
    "/api/users/reset-password",
}
# An upload's content must be of a supported type, detected from its bytes (magic numbers,
# UTF-8 text), and an OpenAI chat request's last message must be a non-empty user message:
# beyond what a schema can say too, so schema-valid data may answer 400 naming the field.
CONTENT_RULES = {"/api/files/upload", "/v1/chat/completions"}
BEYOND_SCHEMA = MAILED_SECRETS | CONTENT_RULES
FRESH_SESSION = {"/api/users/logout", "/api/users/logout-all"}  # they end the token they use
# Per-model rules no schema can state: a thinking budget only for a model that thinks (on
# regenerate, the conversation's stored model decides). Positive data may answer 400 naming
# exactly this field, and nothing else.
PER_MODEL_FIELDS = {"config.thinkingConfig.thinkingBudget"}


def guest_token(url: str) -> str:
    resp = httpx.post(f"{url}/api/users/guest-login", json={"clientKey": uuid4().hex})
    assert resp.status_code == 201, resp.text
    return resp.json()["token"]


@pytest.fixture(scope="module")
def token(live: Served) -> str:
    return guest_token(live.url)


def member_token(url: str, uri: str) -> str:
    """A registered (non-admin) user's token: register, the mailed code, verify, login."""
    email, password = f"m{uuid4().hex[:10]}@example.com", "Member-pass-1234"
    body = {"fullName": "Member", "email": email, "password": password, "acceptTerms": True}
    assert httpx.post(f"{url}/api/users/register", json=body).status_code == 201
    with MongoClient(uri) as client:
        mail = client.get_default_database().mail_outbox.find_one({"to": email})
    otp = re.search(r"\b(\d{6})\b", mail["body"]).group(1)
    verified = httpx.post(f"{url}/api/users/verify-email", json={"email": email, "otp": otp})
    assert verified.status_code == 200, verified.text
    login = httpx.post(f"{url}/api/users/login", json={"email": email, "password": password})
    assert login.status_code == 200, login.text
    return login.json()["token"]


@pytest.fixture(scope="module")
def member(live: Served, live_uri: str) -> str:
    return member_token(live.url, live_uri)


def _config(examples: int) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "seed": 1,
            "generation": {"mode": "all", "max-examples": examples},
        }
    )


@pytest.fixture(scope="module")
def contract(live: Served) -> schemathesis.schemas.BaseSchema:
    return schemathesis.openapi.from_url(f"{live.url}/api/openapi.json", config=_config(5))


def _field(response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("field") if isinstance(body, dict) else None


def check_operation(operation, mode: GenerationMode, url: str, token: str, examples: int) -> None:
    """`examples` cases of one operation in one mode, each sent and validated."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    def check(case) -> None:
        bearer = guest_token(url) if case.path in FRESH_SESSION else token
        headers = {"Authorization": f"Bearer {bearer}"}
        response = case.call(headers=headers)
        per_model = response.status_code == 400 and _field(response) in PER_MODEL_FIELDS
        if per_model:
            assert response.json()["code"] == "VALIDATION_ERROR", response.text
        excluded = [positive_data_acceptance] if case.path in BEYOND_SCHEMA or per_model else []
        case.validate_response(
            response,
            headers=headers,
            excluded_checks=excluded,
            transport_kwargs={"headers": dict(headers)},
        )
        if case.path in BEYOND_SCHEMA and mode is GenerationMode.POSITIVE:
            assert response.status_code in (200, 201, 400, 401, 403, 423, 429), response.text
            if response.status_code == 400 and case.path in CONTENT_RULES:
                assert response.json()["code"] == "VALIDATION_ERROR", response.text

    check()


def run_contract(contract, url: str, token: str, examples: int) -> list[str]:
    """Every operation, positive then negative data, `examples` cases each; the failures."""
    failures: list[str] = []
    for result in contract.get_all_operations():
        operation = result.ok()
        if operation.path in UNCONFIGURED:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                check_operation(operation, mode, url, token, examples)
            except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
                assert mode is GenerationMode.NEGATIVE
            except (Exception, BaseExceptionGroup) as exc:  # one failure per operation and mode
                failures.append(f"{operation.label} {mode.value}: {str(exc)[:600]}")
    return failures


def test_every_operation_keeps_its_contract(contract, live: Served, token: str) -> None:
    """One case per operation and mode as a guest (the member run below goes further; the
    deep runs are `slow`)."""
    failures = run_contract(contract, live.url, token, examples=1)
    assert failures == [], "\n\n".join(failures)


def test_every_operation_keeps_its_contract_as_a_member(
    contract, live: Served, member: str
) -> None:
    """A registered user gets past the refusals a guest meets (files, keys, plugins)."""
    failures = run_contract(contract, live.url, member, examples=3)
    assert failures == [], "\n\n".join(failures)


@pytest.mark.slow
@pytest.mark.timeout(3600)  # 60 cases per operation and mode take minutes on a loaded machine
def test_every_operation_keeps_its_contract_deeply(contract, live: Served, token: str) -> None:
    failures = run_contract(contract, live.url, token, examples=60)
    assert failures == [], "\n\n".join(failures)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_every_operation_keeps_its_contract_deeply_as_a_member(
    contract, live: Served, member: str
) -> None:
    failures = run_contract(contract, live.url, member, examples=60)
    assert failures == [], "\n\n".join(failures)


def test_protected_routes_refuse_a_missing_or_bad_token(live: Served) -> None:
    spec = httpx.get(f"{live.url}/api/openapi.json").json()
    protected = [
        (method, path.replace("{conversation_id}", "c_1").replace("{file_id}", "f_1"))
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        if op.get("security", spec["security"])
    ]
    assert len(protected) >= 12
    with httpx.Client(base_url=live.url) as client:
        for method, path in protected:
            for headers in ({}, {"Authorization": "Bearer not-a-token"}):
                resp = client.request(method, path, headers=headers, json={})
                assert resp.status_code == 401, (method, path, resp.text)
                assert resp.headers.get("www-authenticate", "").startswith("Bearer"), (method, path)
