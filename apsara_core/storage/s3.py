"""S3 (or any S3-compatible service) through boto3: `<S3_PREFIX><userId>/<file id><ext>`.

boto3 is blocking, so every call runs in a worker thread. Files over 8 MiB go up as a
multipart upload (boto3's transfer manager: 8 MiB parts, 4 at a time; it aborts the multipart
upload when a part fails). A put cancelled midway finishes in its thread and is then deleted,
so a cancelled upload leaves no object.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

from apsara_core.errors import NotFoundError
from apsara_core.storage.base import PutRequest, SizedReader, StorageUnavailableError
from apsara_core.storage.names import owner_dir
from apsara_core.storage.types import S3

if TYPE_CHECKING:
    from apsara_core.config import Settings

T = TypeVar("T")
PART = 8 * 1024 * 1024


class S3Storage:
    """Objects in one bucket, under S3_PREFIX."""

    method = S3

    def __init__(self, settings: Settings) -> None:
        assert settings.s3_bucket
        self.bucket, self.prefix = settings.s3_bucket, settings.s3_prefix
        self._settings = settings
        self._client: Any = None

    def client(self) -> Any:
        """The boto3 client (built once; credentials from the settings or boto3's chain)."""
        if self._client is None:
            import boto3
            from botocore.config import Config

            s = self._settings

            def secret(value: Any) -> str | None:
                return value.get_secret_value() if value is not None else None

            self._client = boto3.session.Session().client(
                "s3",
                endpoint_url=s.s3_endpoint_url,
                region_name=s.aws_region,
                aws_access_key_id=secret(s.aws_access_key_id),
                aws_secret_access_key=secret(s.aws_secret_access_key),
                aws_session_token=secret(s.aws_session_token),
                config=Config(
                    retries={"max_attempts": 3, "mode": "standard"},
                    connect_timeout=5,
                    read_timeout=60,
                ),
            )
        return self._client

    async def _call(self, fn: Callable[[], T], what: str) -> T:
        try:
            return await asyncio.to_thread(fn)
        except Exception as exc:
            raise _unavailable(exc, what) from exc

    async def put(self, request: PutRequest) -> dict[str, Any]:
        """Upload the staged file (multipart over 8 MiB)."""
        from boto3.s3.transfer import TransferConfig

        key = f"{self.prefix}{owner_dir(request.owner)}/{request.name}"
        config = TransferConfig(
            multipart_threshold=PART, multipart_chunksize=PART, max_concurrency=4
        )
        upload = asyncio.ensure_future(
            asyncio.to_thread(
                self.client().upload_file,
                str(request.staged),
                self.bucket,
                key,
                ExtraArgs={"ContentType": request.mime},
                Config=config,
            )
        )
        try:
            await asyncio.shield(upload)
        except asyncio.CancelledError:
            await asyncio.wait([upload])  # the thread runs on: wait for it, then undo it
            await asyncio.shield(self.delete({"bucket": self.bucket, "key": key}))
            raise
        except Exception as exc:
            raise _unavailable(exc, "upload to S3") from exc
        return {"bucket": self.bucket, "key": key}

    async def delete(self, location: dict[str, Any]) -> bool:
        """Delete the object; False when it was already gone."""
        client, bucket, key = self.client(), location["bucket"], location["key"]
        try:
            await asyncio.to_thread(client.head_object, Bucket=bucket, Key=key)
        except Exception as exc:
            if _status(exc) == 404:
                return False
            raise _unavailable(exc, "reach S3") from exc
        await self._call(lambda: client.delete_object(Bucket=bucket, Key=key), "delete from S3")
        return True

    async def open(self, location: dict[str, Any]) -> BinaryIO:
        """A streaming reader of the object (the File API upload reads it in a thread).

        Raises:
            NotFoundError: the object is gone.
        """
        client = self.client()
        try:
            got = await asyncio.to_thread(
                client.get_object, Bucket=location["bucket"], Key=location["key"]
            )
        except Exception as exc:
            if _status(exc) == 404:
                raise NotFoundError("The stored object is missing from the S3 bucket") from None
            raise _unavailable(exc, "read from S3") from exc
        return SizedReader(got["Body"], int(got["ContentLength"]))  # type: ignore[return-value]


def _status(exc: Exception) -> int | None:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    code = response.get("Error", {}).get("Code")
    return 404 if code in ("404", "NoSuchKey", "NotFound") else status


def _unavailable(exc: Exception, what: str) -> StorageUnavailableError:
    return StorageUnavailableError(
        f"Could not {what}: {type(exc).__name__}: {exc}",
        suggestions=["Check S3_BUCKET, S3_ENDPOINT_URL and the AWS_* credentials"],
    )
