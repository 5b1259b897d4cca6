"""The side panel of the chat: model, generation config, and the quota left today."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.validation import Integer, Number
from textual.widgets import Checkbox, Input, Label, Select, Static

from apsara_core.vocabulary import CHAT_MODELS, DEFAULT_MODEL

MODELS = CHAT_MODELS
"""Offered until the quota names the plan's models."""


def short_model(model: str) -> str:
    """A model id as the narrow panel shows it: `2.5-flash` for `gemini-2.5-flash`."""
    return model.removeprefix("gemini-")


def quota_text(info: dict[str, Any] | None) -> str:
    """The usageInfo document as short lines (the panel is 24 columns wide at 80×24):
    `2.5-flash: 17/20` (left of the limit)."""
    if not info:
        return "quota: unknown"
    lines = [f"left today · plan {info.get('subscriptionPlan', '?')}"]
    daily = info.get("dailyUsage") or {}
    for model, use in daily.items():
        if isinstance(use, dict) and "limit" in use:
            left = max(0, int(use.get("limit") or 0) - int(use.get("count") or 0))
            lines.append(f"{short_model(model)}: {left}/{use.get('limit')}")
    guest = info.get("guestLimits") or {}
    if isinstance(guest, dict) and guest.get("totalMessagesLimit"):
        left = int(guest["totalMessagesLimit"]) - int(guest.get("totalMessagesUsed") or 0)
        lines.append(f"guest messages left: {max(0, left)}/{guest['totalMessagesLimit']}")
    if info.get("resetTime"):
        lines.append(f"resets {info['resetTime']}")
    return "\n".join(lines)


def _label(model: str) -> str:
    """A model as offered: `llama3.2 · ollama` for a declared provider's `ollama/llama3.2`."""
    name, sep, rest = model.partition("/")
    return f"{rest} · {name}" if sep else model


def _field(
    label: str, input_id: str, placeholder: str, validator: Any, value: str = ""
) -> ComposeResult:
    """One row: the label, then its input (the panel fits in 17 rows at 80×24)."""
    with Horizontal(classes="field"):
        yield Label(label)
        yield Input(
            value,
            placeholder=placeholder,
            id=input_id,
            validators=[validator],
            compact=True,
            valid_empty=True,
            validate_on=["changed"],
        )


class ModelPanel(VerticalScroll):
    """Model select, temperature, max output tokens, thinking budget, include thoughts, quota."""

    def __init__(self, *, model: str = DEFAULT_MODEL, id: str | None = None) -> None:
        super().__init__(id=id)
        self._model = model

    def compose(self) -> ComposeResult:
        yield Label("Model")
        yield Select(
            [(m, m) for m in MODELS], value=self._model, allow_blank=False, id="model", compact=True
        )
        yield from _field("Temp 0–2", "temperature", "default", Number(minimum=0, maximum=2))
        yield from _field("Max tokens", "max-tokens", "default", Integer(minimum=1, maximum=65536))
        yield from _field(
            "Thinking", "thinking-budget", "-1 auto, 0 off", Integer(minimum=-1, maximum=32768)
        )
        yield Checkbox("Include thoughts", value=True, id="include-thoughts", compact=True)
        yield Static("quota: …", id="quota", markup=False)

    @property
    def model(self) -> str:
        """The chosen model id."""
        value = self.query_one("#model", Select).value
        return value if isinstance(value, str) else DEFAULT_MODEL

    def set_models(self, models: list[str]) -> None:
        """Offer `models` (e.g. those the plan's quota names), keeping the choice if offered."""
        if not models:
            return
        current = self.model
        select = self.query_one("#model", Select)
        select.set_options([(_label(m), m) for m in models])
        select.value = current if current in models else models[0]

    def problems(self) -> list[str]:
        """What is wrong with the typed config (empty when it can be sent)."""
        out = []
        for box in self.query(Input):
            result = box.validate(box.value)
            if box.value.strip() and result is not None and not result.is_valid:
                label = {
                    "temperature": "temperature",
                    "max-tokens": "max output tokens",
                    "thinking-budget": "thinking budget",
                }[str(box.id)]
                out.append(f"{label}: {result.failure_descriptions[0]}")
        return out

    def config(self) -> dict[str, Any]:
        """The generation config (camelCase) from the fields that are set."""

        def value(input_id: str) -> str:
            return self.query_one(f"#{input_id}", Input).value.strip()

        config: dict[str, Any] = {}
        if value("temperature"):
            config["temperature"] = float(value("temperature"))
        if value("max-tokens"):
            config["maxOutputTokens"] = int(value("max-tokens"))
        thinking: dict[str, Any] = {
            "includeThoughts": self.query_one("#include-thoughts", Checkbox).value
        }
        if value("thinking-budget"):
            thinking["thinkingBudget"] = int(value("thinking-budget"))
        config["thinkingConfig"] = thinking
        return config

    def show_quota(
        self, info: dict[str, Any] | None, *, chat_models: list[str] | None = None
    ) -> None:
        """Show the quota left; offer the plan's models that can chat (`chat_models`, when known)."""
        self.query_one("#quota", Static).update(quota_text(info))
        daily = (info or {}).get("dailyUsage") or {}
        self.set_models(
            [
                m
                for m, use in daily.items()
                if isinstance(use, dict)
                and use.get("limit")
                and (chat_models is None or m in chat_models)
            ]
        )
