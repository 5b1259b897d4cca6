"""Input models for sign-up and sign-in: strict strings, unknown fields refused.

Front ends (CLI, HTTP, TUI) pass what the user typed through these models, so an operator
object such as `{"$ne": null}` or an extra `role` field fails validation naming the field.
"""

from __future__ import annotations

from typing import Any, TypeVar

import pydantic
from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, field_validator

from apsara_core.errors import ValidationError
from apsara_core.services.input_checks import check_tree
from apsara_core.vocabulary import CLIENT_KEY_MAX_LENGTH, EMAIL_MAX_LENGTH, FULL_NAME_MAX_LENGTH

M = TypeVar("M", bound=BaseModel)
OTP_PURPOSES = ("verify_email", "reset_password")


def check_email(value: str, field: str = "email") -> str:
    """A syntactically valid email, normalized (trimmed, lowercased).

    Raises:
        ValidationError: naming the field and what is wrong with the address.
    """
    if not isinstance(value, str) or not value.strip() or len(value) > EMAIL_MAX_LENGTH:
        raise ValidationError("email must be an address like name@example.com", field=field)
    try:
        info = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationError(f"email is not a valid address: {exc}", field=field) from None
    return info.normalized.lower()


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


class EmailInput(_Input):
    """Just an email (forgot-password, resend)."""

    email: StrictStr = Field(max_length=EMAIL_MAX_LENGTH, json_schema_extra={"format": "email"})

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return check_email(value)


class RegisterInput(EmailInput):
    """POST /users/register: fullName, email, password, acceptTerms (must be true)."""

    full_name: StrictStr = Field(
        alias="fullName",
        min_length=1,
        max_length=FULL_NAME_MAX_LENGTH,
        json_schema_extra={"pattern": r"\S"},
    )
    password: StrictStr = Field(
        max_length=4096, json_schema_extra={"minLength": 8, "maxLength": 128}
    )  # the policy (services/passwords.py) checks it; the schema says so
    accept_terms: StrictBool = Field(alias="acceptTerms", json_schema_extra={"const": True})

    @field_validator("full_name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("fullName must not be blank")
        return value

    @field_validator("accept_terms")
    @classmethod
    def _terms(cls, value: bool) -> bool:
        if value is not True:
            raise ValueError("acceptTerms must be true: the terms have to be accepted")
        return value


class LoginInput(EmailInput):
    """Email and password."""

    password: StrictStr = Field(max_length=4096)


class OtpInput(EmailInput):
    """Email and a 6-digit code."""

    otp: StrictStr = Field(pattern=r"^\d{6}$")


class ResendInput(EmailInput):
    """Email and the purpose of the code to send again."""

    purpose: StrictStr = Field("verify_email", json_schema_extra={"enum": list(OTP_PURPOSES)})

    @field_validator("purpose")
    @classmethod
    def _purpose(cls, value: str) -> str:
        if value not in OTP_PURPOSES:
            raise ValueError(f"purpose must be one of {', '.join(OTP_PURPOSES)}")
        return value


class ResetInput(_Input):
    """The reset token from verify-reset-otp and the new password."""

    reset_token: StrictStr = Field(alias="resetToken", min_length=1, max_length=512)
    password: StrictStr = Field(max_length=4096)


class GoogleInput(_Input):
    """A Google ID token (nothing else is taken from the request)."""

    id_token: StrictStr = Field(alias="idToken", min_length=1, max_length=8192)


class GuestInput(_Input):
    """The caller-supplied client key a guest is tied to (device id, IP)."""

    client_key: StrictStr = Field(alias="clientKey", min_length=1, max_length=CLIENT_KEY_MAX_LENGTH)


def parse(model: type[M], data: dict[str, Any]) -> M:
    """Validate `data` (field names or aliases) into `model`.

    Every value is checked first (`check_tree`: valid Unicode, finite 64-bit numbers, bounded
    nesting), unknown fields included, so no model sees what it cannot handle.

    Raises:
        ValidationError: the first problem, naming its field (by its public, camelCase name).
    """
    check_tree(data)
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        err = exc.errors()[0]
        name = _public_name(model, str(err["loc"][0]) if err["loc"] else "input")
        if err["type"] == "extra_forbidden":
            raise ValidationError(f"{name} is not an accepted field", field=name) from None
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise ValidationError(f"{name}: {msg}", field=name) from None


def _public_name(model: type[BaseModel], key: str) -> str:
    field = model.model_fields.get(key)
    return field.alias if field is not None and field.alias else key
