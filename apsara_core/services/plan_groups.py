"""Model groups of a plan: a named set of models sharing one daily or total limit.

A plan document may hold `groups: {NAME: {models: [model, ...], daily: int|None,
total: int|None}}`. A model of a group reserves from the group's counter (`group:NAME` in
place of the model in the counter's `_id`), so the group's models share one allowance; its
usage history stays per model. A model is in at most one group of a plan, and a model in a
group has no limit of its own in that plan (the group takes it over).

The counter is named by the group only, not by the plan, as per-model counters are: a user
who changes plan mid-day keeps what was used under the same group name.
"""

from __future__ import annotations

import re
from typing import Any

from apsara_core.errors import ValidationError

GROUP_PREFIX = "group:"
_GROUP_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")


def group_counter(name: str) -> str:
    """The name a group's admission counter uses in place of a model."""
    return f"{GROUP_PREFIX}{name}"


def check_group_name(name: Any) -> str:
    """A group name: 1-40 letters, digits, `_` or `-`, starting with a letter or digit.

    Raises:
        ValidationError: anything else (field "group").
    """
    if not isinstance(name, str) or not _GROUP_NAME.fullmatch(name):
        raise ValidationError(
            f"A group name is 1-40 letters, digits, '_' or '-' (starting with a letter or "
            f"digit), got {name!r}",
            field="group",
        )
    return name


def groups_of(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A plan's groups (none for plans stored before groups existed)."""
    return doc.get("groups") or {}


def group_of(doc: dict[str, Any], model: str) -> tuple[str, dict[str, Any]] | None:
    """The (name, group) of `plan` that holds `model`, or None."""
    for name, group in groups_of(doc).items():
        if model in group.get("models", ()):
            return name, group
    return None


def effective_models(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every model the plan gives a limit, alone or through a group: the plan's model table
    plus each grouped model with its group's limit and name (`group`)."""
    table: dict[str, dict[str, Any]] = dict(doc.get("models") or {})
    for name, group in groups_of(doc).items():
        for model in group.get("models", ()):
            table[model] = {"daily": group.get("daily"), "total": group.get("total"), "group": name}
    return table


def check_members(doc: dict[str, Any], *, group: str, models: Any, known: list[str]) -> list[str]:
    """The group's models, checked: a non-empty list of known models, none already in another
    group of the plan. Duplicates are dropped, the order kept.

    Raises:
        ValidationError: no model, an unknown model, or one in another group (field "model").
    """
    if isinstance(models, str):
        models = [models]
    if not isinstance(models, list) or not models:
        raise ValidationError("Give at least one --model for the group", field="model")
    for model in models:
        if not isinstance(model, str) or model not in known:
            raise ValidationError(
                f"Unknown model {model!r}; expected one of {', '.join(known)}", field="model"
            )
        found = group_of(doc, model)
        if found is not None and found[0] != group:
            raise ValidationError(
                f"{model} is already in group {found[0]!r} of plan {doc['name']!r}; a model is "
                "in at most one group of a plan (remove it there first)",
                field="model",
            )
    return list(dict.fromkeys(models))


def with_group(doc: dict[str, Any], *, group: str, entry: dict[str, Any] | None) -> dict[str, Any]:
    """The plan's new {models, groups} with `group` set to `entry` (or removed when None).

    The group's models leave the plan's per-model table: the group's limit is theirs now.
    """
    groups = {k: v for k, v in groups_of(doc).items() if k != group}
    models = dict(doc.get("models") or {})
    if entry is not None:
        groups[group] = entry
        for model in entry["models"]:
            models.pop(model, None)
    return {"models": models, "groups": groups}
