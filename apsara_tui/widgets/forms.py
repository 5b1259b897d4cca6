"""Forms: labelled inputs that validate as you type, with an error line under each field.

A `Form` holds `FormField`s (and any other widgets, e.g. a Checkbox or a Select with an id
that `values()` should read) and a submit button. Submitting checks every field first and
posts `Form.Submitted` only when all are valid, so bad input never reaches the Core.
`Form.guard(coro)` puts an error the Core raises under the field it names.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.validation import Function
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from apsara_core.errors import ApsaraError
from apsara_core.vocabulary import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH

T = TypeVar("T")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Check:
    """A rule a field's value must pass, and the message shown when it does not."""

    test: Callable[[str], bool]
    message: str


def required(what: str) -> Check:
    """The field must not be blank."""
    return Check(lambda v: bool(v.strip()), f"Enter {what}")


def email_check() -> Check:
    """An email address such as name@example.com."""
    return Check(
        lambda v: bool(EMAIL_RE.match(v.strip())), "Expected an email address like name@example.com"
    )


def length(lo: int, hi: int, what: str) -> Check:
    """Between `lo` and `hi` characters."""
    return Check(lambda v: lo <= len(v) <= hi, f"{what} must be {lo}–{hi} characters")


def digits(count: int) -> Check:
    """Exactly `count` digits (one-time codes)."""
    return Check(
        lambda v: len(v.strip()) == count and v.strip().isdigit(),
        f"Expected the {count}-digit code from the mail",
    )


def password_checks() -> list[Check]:
    """The password rules the Core enforces that can be checked while typing."""
    return [length(PASSWORD_MIN_LENGTH, PASSWORD_MAX_LENGTH, "The password")]


def _norm(key: str | None) -> str:
    return (key or "").replace("_", "").replace("-", "").lower()


class FormField(Vertical):
    """A label and an Input on one row, and the error line under them."""

    DEFAULT_CSS = """
    FormField { height: auto; }
    FormField > Horizontal { height: auto; }
    FormField > Horizontal > Label { width: 16; padding: 1 1 0 1; }
    FormField > Horizontal > Input { width: 1fr; }
    FormField > .field-error { color: $error; padding: 0 1 0 17; height: auto; display: none; }
    FormField.-has-error > .field-error { display: block; }
    """

    def __init__(
        self,
        key: str,
        label: str,
        *,
        checks: Iterable[Check] = (),
        optional: bool = False,
        password: bool = False,
        placeholder: str = "",
        value: str = "",
        aliases: Iterable[str] = (),
    ) -> None:
        super().__init__(id=f"field-{key}")
        self.key = key
        self.names = {_norm(key), *(_norm(a) for a in aliases)}  # how Core errors may name it
        self.optional = optional
        self._checks = list(checks)
        self._label, self._password, self._placeholder, self._initial = (
            label,
            password,
            placeholder,
            value,
        )

    def compose(self) -> ComposeResult:
        validators = [Function(c.test, c.message) for c in self._checks]
        with Horizontal():
            yield Label(self._label)
            yield Input(
                self._initial,
                placeholder=self._placeholder,
                password=self._password,
                validators=validators,
                validate_on=[],
                valid_empty=self.optional,
                id=f"input-{self.key}",
            )
        yield Static("", classes="field-error")

    @property
    def input(self) -> Input:
        """The Input of this field."""
        return self.query_one(Input)

    @property
    def value(self) -> str:
        """The value as typed (emails and names are trimmed by the Core)."""
        return self.input.value

    @value.setter
    def value(self, text: str) -> None:
        self.input.value = text

    @property
    def error(self) -> str:
        """The error shown under the field ("" when none)."""
        return (
            str(self.query_one(".field-error", Static).content)
            if self.has_class("-has-error")
            else ""
        )

    def show_error(self, message: str | None) -> None:
        """Show `message` under the field, or clear it when None."""
        self.query_one(".field-error", Static).update(message or "")
        self.set_class(bool(message), "-has-error")
        self.input.set_class(bool(message), "-invalid")

    def check(self, *, submitting: bool = False) -> bool:
        """Validate the value; show the first failure. Blank fields are only flagged on submit."""
        value = self.input.value
        if not value and not submitting:
            self.show_error(None)
            return True
        result = self.input.validate(value)
        message = None if result is None or result.is_valid else result.failure_descriptions[0]
        self.show_error(message)
        return message is None

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.check()


class Form(Vertical):
    """Fields and a submit button; Enter in the last field or the button submits."""

    DEFAULT_CSS = """
    Form { height: auto; }
    Form > .form-buttons { height: auto; padding: 0 1; }
    Form > .form-buttons > Button { margin-right: 1; }
    """

    @dataclass
    class Submitted(Message):
        """All fields passed their checks; `values` maps keys to values."""

        form: Form
        values: dict[str, Any]

        @property
        def control(self) -> Form:
            """The form that was submitted."""
            return self.form

    def __init__(
        self, *children: Widget, submit: str, id: str, extra_buttons: Iterable[Button] = ()
    ) -> None:
        super().__init__(id=id)
        self._children = children
        self._submit_label = submit
        self._extra = list(extra_buttons)

    def compose(self) -> ComposeResult:
        yield from self._children
        with Horizontal(classes="form-buttons"):
            yield Button(self._submit_label, variant="primary", id=f"{self.id}-submit")
            yield from self._extra

    @property
    def fields(self) -> list[FormField]:
        """The form's fields in order."""
        return list(self.query(FormField))

    def field(self, key: str) -> FormField:
        """The field named `key`."""
        return self.query_one(f"#field-{key}", FormField)

    def values(self) -> dict[str, Any]:
        """Field values by key, plus checkbox and select values by id."""
        values: dict[str, Any] = {f.key: f.value for f in self.fields}
        for box in self.query(Checkbox):
            values[str(box.id)] = box.value
        for select in self.query(Select):
            values[str(select.id)] = None if select.is_blank() else select.value
        return values

    def submit(self) -> None:
        """Check every field; post Submitted when all pass, else focus the first bad one."""
        bad = [f for f in self.fields if not f.check(submitting=True)]
        if bad:
            bad[0].input.focus()
            return
        self.post_message(self.Submitted(self, self.values()))

    def clear(self) -> None:
        """Empty every field and its error."""
        for f in self.fields:
            f.value = ""
            f.show_error(None)

    def show_error(self, key: str | None, message: str) -> bool:
        """Put `message` under the field matching `key` (fullName ~ full_name); False if none."""
        for f in self.fields:
            if key and _norm(key) in f.names:
                f.show_error(message)
                return True
        return False

    async def guard(self, awaitable: Awaitable[T]) -> T:
        """Await a Core call; an error naming one of our fields is also shown under it."""
        try:
            return await awaitable
        except ApsaraError as exc:
            self.show_error(exc.field, exc.message)
            raise

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == f"{self.id}-submit":
            event.stop()
            self.submit()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        fields = self.fields
        index = next((i for i, f in enumerate(fields) if f.input is event.input), -1)
        if 0 <= index < len(fields) - 1:
            fields[index + 1].input.focus()
        else:
            self.submit()
