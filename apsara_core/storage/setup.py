"""The storage backends the settings configure."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from apsara_core.storage.base import Backend, StorageSet
from apsara_core.storage.google_files import GoogleFiles
from apsara_core.storage.local import LocalStorage
from apsara_core.storage.types import GOOGLE, LOCAL, S3

if TYPE_CHECKING:
    from apsara_core.config import Settings

S3_SETTINGS = (
    "S3_BUCKET (plus S3_ENDPOINT_URL for a non-AWS service, AWS_ACCESS_KEY_ID, "
    "AWS_SECRET_ACCESS_KEY and AWS_DEFAULT_REGION unless boto3 finds credentials)"
)


def build_storage(settings: Settings, gemini: GoogleFiles) -> StorageSet:
    """Local always; S3 when S3_BUCKET is set; the File API when a Gemini key is set."""
    backends: dict[str, Backend] = {LOCAL: LocalStorage(settings.upload_dir)}
    if settings.s3_configured:
        from apsara_core.storage.s3 import S3Storage

        backends[S3] = S3Storage(settings)
    key = settings.google_ai_api_key
    if key is not None and key.get_secret_value().strip():
        backends[GOOGLE] = gemini
    return StorageSet(backends, missing={S3: S3_SETTINGS, GOOGLE: "GOOGLE_AI_API_KEY"})


def build_gemini_files(settings: Settings, client: Callable[[], Any]) -> GoogleFiles:
    """The File API client over the Google provider's SDK client."""
    return GoogleFiles(client=client, active_timeout_s=settings.file_active_timeout_s)
