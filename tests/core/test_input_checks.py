"""Values every input passes before its model sees it: Unicode, numbers, nesting."""

from __future__ import annotations

import pytest

from apsara_core.errors import ValidationError
from apsara_core.services.input_checks import MAX_DEPTH, check_tree
from apsara_core.services.inputs import LoginInput, parse


def nested(levels: int) -> dict:
    """A body whose value under "a" makes `levels` nested containers in all."""
    value: list = []
    for _ in range(levels - 2):
        value = [value]
    return {"a": value}


@pytest.mark.parametrize(
    "data, field",
    [
        ({"config": {"temperature": 10**400}}, "config.temperature"),
        ({"config": {"topK": -(2**63) - 1}}, "config.topK"),
        ({"a": [1, 2.5, float("inf")]}, "a[2]"),
        ({"a": {"b": float("nan")}}, "a.b"),
        ({"contents": "caf\udce9"}, "contents"),
        ({"files": ["ok", "\ud800"]}, "files[1]"),
        ({"\ud800": 1}, "body"),
        ({"config": {"x\udfff": 1}}, "config"),
    ],
)
def test_bad_values_are_refused_naming_their_field(data, field):
    with pytest.raises(ValidationError) as info:
        check_tree(data)
    assert info.value.field == field and info.value.http_status == 400


def test_limits_are_inclusive():
    check_tree(
        {"n": 2**63 - 1, "m": -(2**63), "x": 1e308, "t": "café ✓", "deep": nested(MAX_DEPTH)["a"]}
    )
    check_tree(nested(MAX_DEPTH))
    with pytest.raises(ValidationError) as info:
        check_tree(nested(MAX_DEPTH + 1))
    assert info.value.field.startswith("a[0]") and "64 levels" in info.value.message


def test_parse_checks_values_before_the_model():
    with pytest.raises(ValidationError) as info:  # the model alone would let the surrogate through
        parse(LoginInput, {"email": "a@b.co", "password": "pw\ud800"})
    assert info.value.field == "password"
