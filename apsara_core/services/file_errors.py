"""Errors of the file service that carry more than a message."""

from __future__ import annotations

from typing import Any

from apsara_core.errors import NotFoundError, PermissionDeniedError
from apsara_core.services.hints import DELETE_FILES
from apsara_core.storage.types import human_size


class FileLimitError(PermissionDeniedError):
    """An upload would pass the plan's file count or byte limit; carries the usage so far."""

    code, title = "FILE_LIMIT_EXCEEDED", "File limit exceeded"

    def __init__(
        self,
        *,
        plan: str,
        usage: dict[str, int],
        limits: dict[str, int],
        adding_files: int,
        adding_bytes: int,
        field: str = "files",
    ) -> None:
        over_count = usage["files"] + adding_files > limits["maxFiles"]
        what = (
            f"{limits['maxFiles']} files"
            if over_count
            else f"{human_size(limits['maxBytes'])} of files"
        )
        super().__init__(
            f"The {plan} plan allows {what}; you store {usage['files']} files "
            f"({human_size(usage['bytes'])}) and this upload adds {adding_files} "
            f"({human_size(adding_bytes)})",
            field=field,
            suggestions=[
                DELETE_FILES,
                "Or move to a plan with more room",
            ],
        )
        self.usage = {"subscriptionPlan": plan, **usage, **limits}

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "usageInfo": self.usage}


class FileExpiredError(NotFoundError):
    """A file stored only in the Gemini File API is gone (kept 48 h): it cannot be re-sent."""

    code, title = "FILE_EXPIRED", "File expired"
