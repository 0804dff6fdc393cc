"""Values computation, node by node: the order of sources, Onyxia's approximations, arrays, options."""

from __future__ import annotations

from typing import Any

import pytest

from sardonyx.catalog import compute_default_values, merge_chart_defaults, resolve_options
from sardonyx.catalog.jsonvalues import MISSING
from sardonyx.catalog.values import check_value, compute_node

CONTEXT: dict[str, Any] = {
    "user": {"idep": "bob", "decodedIdToken": {"groups": ["g1", "g2"]}, "darkMode": True},
    "project": {"id": "user-bob"},
    "service": {"oneTimePassword": "otp"},
    "git": {"credentials_cache_duration": 0},
    "ai": {"providers": [{"id": "p1", "name": "One", "models": ["m1", "m2"]}, {"id": "p2", "name": "Two"}]},
    "numbers": {"text": "12", "yes": "yes", "big": 500},
}


def node(schema: dict[str, Any], yaml_value: Any = MISSING) -> Any:
    return compute_node(schema, yaml_value, CONTEXT)


def test_const_wins_over_everything() -> None:
    schema = {"type": "string", "const": "fixed", "default": "d", "x-onyxia": {"overwriteDefaultWith": "project.id"}}
    assert node(schema, "from-yaml") == "fixed"


def test_order_expression_default_yaml() -> None:
    schema: dict[str, Any] = {"type": "string", "default": "d", "x-onyxia": {"overwriteDefaultWith": "project.id"}}
    assert node(schema, "y") == "user-bob"
    schema["x-onyxia"]["overwriteDefaultWith"] = "{{project.missing}}"
    assert node(schema, "y") == "d"
    del schema["default"]
    assert node(schema, "y") == "y"
    assert node(schema) is MISSING


def test_invalid_default_falls_through_to_values_yaml() -> None:
    assert node({"type": "integer", "default": "not a number"}, 3) == 3
    assert node({"type": "string", "pattern": "^[a-z]+$", "default": "UPPER"}, "lower") == "lower"


def test_reasonable_approximations_of_expression_results() -> None:
    # a number for a string field (git.credentials_cache_duration -> git.cache)
    assert (
        node({"type": "string", "default": "", "x-onyxia": {"overwriteDefaultWith": "git.credentials_cache_duration"}})
        == "0"
    )
    assert node({"type": "integer", "x-onyxia": {"overwriteDefaultWith": "numbers.text"}}) == 12
    assert node({"type": "boolean", "x-onyxia": {"overwriteDefaultWith": "numbers.yes"}}) is True
    assert node({"type": "string", "x-onyxia": {"overwriteDefaultWith": "user.darkMode"}}) == "true"
    # out of bounds: no approximation, next source
    assert (
        node({"type": "integer", "maximum": 100, "default": 1, "x-onyxia": {"overwriteDefaultWith": "numbers.big"}})
        == 1
    )


def test_slider_unit_and_bounds_checked() -> None:
    schema = {"type": "string", "default": "2Gi", "sliderMin": 1, "sliderMax": 200, "sliderUnit": "Gi"}
    assert check_value(schema, "8Gi", {}) == (True, MISSING)
    assert check_value(schema, "512Mi", {})[0] is False
    assert check_value(schema, "500Gi", {})[0] is False
    assert node({**schema, "x-onyxia": {"overwriteDefaultWith": "numbers.text"}}) == "2Gi"


def test_objects_recurse_and_follow_values_yaml() -> None:
    schema = {
        "type": "object",
        "default": {"ignored": True},
        "properties": {
            "a": {"type": "string"},
            "b": {"type": "object", "properties": {"c": {"type": "integer", "default": 1}}},
            "d": {"type": "boolean"},
        },
    }
    assert node(schema, {"a": "from-yaml", "b": {"c": 5}, "extra": 1}) == {"a": "from-yaml", "b": {"c": 1}}


def test_free_objects_and_arrays() -> None:
    assert node({"type": "object", "default": {"k": "v"}}) == {"k": "v"}
    assert node({"type": "object", "additionalProperties": {"type": "string"}}, {"x": "y"}) == {"x": "y"}
    assert node({"type": "array", "items": {"type": "string"}}) == []
    item = {
        "type": "object",
        "properties": {"name": {"type": "string", "default": "VAR"}, "value": {"type": "string", "default": ""}},
    }
    assert node({"type": "array", "minItems": 2, "items": item}) == [{"name": "VAR", "value": ""}] * 2


def test_array_of_objects_remapped_through_item_schema() -> None:
    schema = {
        "type": "array",
        "default": [],
        "x-onyxia": {"overwriteDefaultWith": "{{ai.providers}}"},
        "items": {
            "type": "object",
            "properties": {
                "id": {"type": "string", "default": ""},
                "name": {"type": "string", "default": ""},
                "models": {"type": "array", "default": [], "items": {"type": "string"}},
            },
        },
    }
    assert node(schema) == [
        {"id": "p1", "name": "One", "models": ["m1", "m2"]},
        {"id": "p2", "name": "Two", "models": []},
    ]


def test_literals_resolve_element_wise() -> None:
    schema = {
        "type": "array",
        "items": {"type": "string"},
        "x-onyxia": {"overwriteDefaultWith": ["fixed", "{{project.id}}"]},
    }
    assert node(schema) == ["fixed", "user-bob"]
    obj = {
        "type": "object",
        "x-onyxia": {"overwriteDefaultWith": {"owner": "{{user.idep}}", "missing": "{{x.y}}"}},
        "default": {},
    }
    assert node(obj) == {}


def test_options_order_and_dynamic_select() -> None:
    dynamic = {
        "type": "string",
        "default": "",
        "listEnum": [""],
        "x-onyxia": {
            "overwriteDefaultWith": "user.decodedIdToken.groups[0]",
            "overwriteListEnumWith": "user.decodedIdToken.groups",
        },
    }
    assert resolve_options(dynamic, CONTEXT) == ["g1", "g2"]
    assert node(dynamic) == "g1"
    assert resolve_options({"type": "string", "listEnum": ["a", "b"], "enum": ["c"]}, CONTEXT) == ["a", "b"]
    assert resolve_options({"type": "string", "enum": ["c"]}, CONTEXT) == ["c"]
    # a listEnum with an invalid option is ignored as a whole
    assert resolve_options({"type": "integer", "listEnum": [1, "x"], "enum": [2]}, CONTEXT) == [2]
    assert resolve_options({"type": "string"}, CONTEXT) is None
    # a value outside the options is invalid: the default wins
    assert (
        node({"type": "string", "enum": ["a", "b"], "default": "a", "x-onyxia": {"overwriteDefaultWith": "project.id"}})
        == "a"
    )


def test_chart_without_schema_uses_values_yaml_copy() -> None:
    values = {"a": {"b": [1, 2]}}
    computed = compute_default_values(None, values, CONTEXT)
    assert computed == values
    computed["a"]["b"].append(3)
    assert values == {"a": {"b": [1, 2]}}


def test_defaults_are_copies_of_the_schema() -> None:
    schema = {"type": "object", "properties": {"l": {"type": "array", "default": [1]}}}
    first = compute_default_values(schema, {}, CONTEXT)
    first["l"].append(2)
    assert compute_default_values(schema, {}, CONTEXT) == {"l": [1]}


def test_merge_chart_defaults_like_helm() -> None:
    chart = {"a": {"b": 1, "c": 2}, "list": [1, 2], "gone": "x"}
    merged = merge_chart_defaults(chart, {"a": {"b": 5}, "list": [9], "gone": None, "new": True})
    assert merged == {"a": {"b": 5, "c": 2}, "list": [9], "new": True}


@pytest.mark.parametrize(
    ("schema", "value", "expected"),
    [
        ({"type": "boolean"}, "on", (False, True)),
        ({"type": "boolean"}, "maybe", (False, MISSING)),
        ({"type": "boolean"}, 0, (False, False)),
        ({"type": "string"}, None, (False, "")),
        ({"type": "integer"}, 1.5, (False, MISSING)),
        ({"type": "integer"}, True, (False, 1)),
        ({"type": "number", "minimum": 2}, 1, (False, MISSING)),
        ({"type": "array", "maxItems": 1}, [1, 2], (False, MISSING)),
        ({"type": "array", "items": {"type": "string"}}, [1, "a"], (False, ["1", "a"])),
        ({"type": "object", "properties": {"a": {"type": "string"}}}, {"a": "x", "b": 1}, (False, {"a": "x"})),
        ({"type": "object", "properties": {"a": {"type": "string"}}}, {}, (False, MISSING)),
        ({"type": "object"}, [], (False, MISSING)),
    ],
)
def test_check_value_port(schema: dict[str, Any], value: Any, expected: tuple[bool, Any]) -> None:
    assert check_value(schema, value, CONTEXT) == expected


def test_untyped_nodes_with_properties_or_items_are_objects_and_arrays() -> None:
    schema = {"properties": {"a": {"type": "integer", "default": 1}, "l": {"items": {"type": "string"}}}}
    assert compute_default_values(schema, {"a": 5, "extra": True}, CONTEXT) == {"a": 1, "l": []}
