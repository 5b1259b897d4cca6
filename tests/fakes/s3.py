"""S3 for tests: the real `moto_server` program on 127.0.0.1 over HTTP, reached with boto3.

One server per test session, one bucket in it; each test gets its own key prefix, so tests
never see each other's objects.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import boto3
import httpx
import pytest

from apsara_core.config import Settings
from apsara_core.db.embedded import free_port

BUCKET = "apsara-test"
CREDENTIALS = {
    "aws_access_key_id": "test",
    "aws_secret_access_key": "test",
    "region_name": "us-east-1",
}


def s3_client(endpoint: str) -> Any:
    """A boto3 client of the test server."""
    return boto3.session.Session().client("s3", endpoint_url=endpoint, **CREDENTIALS)


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto_server started from the venv, with the test bucket created."""
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("w")
    exe = Path(sys.executable).with_name("moto_server")
    proc = subprocess.Popen(
        [str(exe), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(endpoint + "/moto-api/", timeout=1)
            break
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("moto_server did not start") from None
            time.sleep(0.1)
    s3_client(endpoint).create_bucket(Bucket=BUCKET)
    yield endpoint
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def s3_overrides(endpoint: str) -> dict[str, Any]:
    """Settings fields pointing S3 storage at the test server, under a fresh prefix."""
    from pydantic import SecretStr

    return {
        "s3_bucket": BUCKET,
        "s3_endpoint_url": endpoint,
        "s3_prefix": f"t{uuid4().hex[:12]}/",
        "aws_access_key_id": SecretStr("test"),
        "aws_secret_access_key": SecretStr("test"),
        "aws_region": "us-east-1",
    }


def s3_env(endpoint: str) -> dict[str, str]:
    """The same for an `apsara` subprocess."""
    return {
        "S3_BUCKET": BUCKET,
        "S3_ENDPOINT_URL": endpoint,
        "S3_PREFIX": f"t{uuid4().hex[:12]}/",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def keys(endpoint: str, prefix: str) -> list[str]:
    """Every object key under `prefix` in the test bucket."""
    listed = s3_client(endpoint).list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return [o["Key"] for o in listed.get("Contents", [])]


@pytest.fixture
def s3_settings(settings: Settings, moto_endpoint: str) -> Settings:
    """Test settings with S3 storage on the test server."""
    return settings.model_copy(update=s3_overrides(moto_endpoint))
