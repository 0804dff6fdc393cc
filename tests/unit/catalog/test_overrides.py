"""Overrides: --set paths and typing by the schema, launch-URL parameters, typed form values, violations."""

from __future__ import annotations

from typing import Any

import pytest

from sardonyx.catalog import Override, apply_overrides, parse_launch_url, parse_set_options, parse_values_path
from sardonyx.catalog.overrides import format_launch_url_value, parse_launch_url_value, schema_at
from sardonyx.errors import BadRequest

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "port": {"type": "integer"},
        "ratio": {"type": "number"},
        "enabled": {"type": "boolean"},
        "maybe": {"type": ["null", "integer", "string"]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "env": {
            "type": "array",
            "items": {"type": "object", "properties": {"name": {"type": "string"}, "value": {"type": "string"}}},
        },
        "nodeSelector": {"type": "object", "additionalProperties": {"type": "string"}},
        "free": {"type": "object"},
        "closed": {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False},
    },
}
VALUES: dict[str, Any] = {"name": "x", "port": 1, "env": [{"name": "A", "value": "1"}], "tags": []}


def apply(*options: str) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    values, violations = apply_overrides(VALUES, parse_set_options(list(options)), SCHEMA)
    return values, [(v.path, v.reason) for v in violations]


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("a", ("a",)),
        ("a.b.c", ("a", "b", "c")),
        ("a[0].b", ("a", 0, "b")),
        ("a[0][1]", ("a", 0, 1)),
        ("nodeSelector.kubernetes\\.io/hostname", ("nodeSelector", "kubernetes.io/hostname")),
        ("resources.limits.nvidia\\.com/gpu", ("resources", "limits", "nvidia.com/gpu")),
    ],
)
def test_path_syntax(text: str, path: tuple[str | int, ...]) -> None:
    assert parse_values_path(text) == path


@pytest.mark.parametrize("text", ["", "a..b", ".a", "a.", "a[x]", "a[0", "[0].a", "a[0]b"])
def test_malformed_paths(text: str) -> None:
    with pytest.raises(ValueError, match="path"):
        parse_values_path(text)


def test_typing_by_schema() -> None:
    values, violations = apply(
        "name=0042", "port=8080", "ratio=0.5", "enabled=TRUE", "tags=[a, b]", "maybe=null", "env[0].value=2"
    )
    assert violations == []
    assert values["name"] == "0042"
    assert values["port"] == 8080
    assert values["ratio"] == 0.5
    assert values["enabled"] is True
    assert values["tags"] == ["a", "b"]
    assert values["maybe"] is None
    assert values["env"] == [{"name": "A", "value": "2"}]
    assert apply("maybe=12")[0]["maybe"] == 12
    assert apply("maybe=abc")[0]["maybe"] == "abc"
    assert apply("name=a=b")[0]["name"] == "a=b"


def test_new_keys_and_list_items() -> None:
    values, violations = apply("nodeSelector.disk=ssd", "env[1].name=B", "free.x.y=3", "tags[0]=t")
    assert violations == []
    assert values["nodeSelector"] == {"disk": "ssd"}
    assert values["env"][1] == {"name": "B"}
    assert values["free"] == {"x": {"y": 3}}  # untyped: typed like helm --set
    assert values["tags"] == ["t"]
    assert VALUES["tags"] == []  # the input is never changed


def test_every_violation_at_once() -> None:
    _, violations = apply(
        "port=abc", "enabled=maybe", "nam=x", "closed.b=1", "name.sub=1", "env.name=x", "tags=notalist", "env[5].name=x"
    )
    reasons = dict(violations)
    assert reasons["port"] == "expected an integer, got 'abc'"
    assert reasons["enabled"] == "expected true or false, got 'maybe'"
    assert "has no value nam (did you mean name?)" in reasons["nam"]
    assert "has no value closed.b (its fields: a)" in reasons["closed.b"]
    assert reasons["name.sub"] == "name is a string, it has no field 'sub'"
    assert "env is a list: use an index such as env[0]" in reasons["env.name"]
    assert "expected a list such as [a, b]" in reasons["tags"]
    assert "index 5 is past the end of env" in reasons["env[5].name"]
    assert len(violations) == 8


def test_typed_values_from_a_form() -> None:
    overrides = [Override.typed("port", 9000.0), Override.typed("enabled", "yes"), Override.typed(("tags",), ["a"])]
    values, violations = apply_overrides(VALUES, overrides, SCHEMA)
    assert values["port"] == 9000 and isinstance(values["port"], int)
    assert values["tags"] == ["a"]
    assert [(v.path, v.reason) for v in violations] == [("enabled", 'expected a boolean, got a string ("yes")')]


def test_remove_and_no_schema() -> None:
    values, violations = apply_overrides(VALUES, [Override.remove("env[0]"), Override.remove("name")], SCHEMA)
    assert violations == [] and values["env"] == [] and "name" not in values
    values, violations = apply_overrides({}, parse_set_options(["a.b=true", "n=007", "m=7"]), None)
    assert violations == [] and values == {"a": {"b": True}, "n": "007", "m": 7}


def test_set_syntax_errors_all_reported() -> None:
    with pytest.raises(BadRequest) as caught:
        parse_set_options(["novalue", "a..b=1", "ok=1"])
    assert [v.path for v in caught.value.violations] == ["novalue", "a..b"]


def test_launch_url_parameters() -> None:
    parsed = parse_launch_url(
        [
            ("name", "my-notebook"),
            ("version", "2.5.2"),
            ("s3", "default"),
            ("autoLaunch", "true"),
            ("resources.limits.memory", "«8Gi»"),
            ("persistence.enabled", "false"),
            ("networking.user.port", "8080"),
            ("git.repository", "«https://github.com/org/repo»"),
            ("init.personalInit", "-"),
            ("ratio", "0.25"),
            ("extra", "null"),
        ]
    )
    assert (parsed.friendly_name, parsed.version, parsed.s3_profile, parsed.auto_launch) == (
        "my-notebook",
        "2.5.2",
        "default",
        True,
    )
    assert parsed.shared is None
    got = {o.path: (o.value, o.unset) for o in parsed.overrides}
    assert got[("resources", "limits", "memory")] == ("8Gi", False)
    assert got[("persistence", "enabled")] == (False, False)
    assert got[("networking", "user", "port")] == (8080, False)
    assert got[("git", "repository")] == ("https://github.com/org/repo", False)
    assert got[("init", "personalInit")] == (None, True)
    assert got[("ratio",)] == (0.25, False)
    assert got[("extra",)] == (None, False)


@pytest.mark.parametrize("value", ["text", "", 3, 2.5, True, False, None, ["a"], {"k": 1}])
def test_launch_url_values_round_trip(value: Any) -> None:
    decoded, unset = parse_launch_url_value(format_launch_url_value(value))
    assert not unset
    expected = value if not isinstance(value, list | dict) else format_launch_url_value(value)[1:-1]
    assert decoded == expected


def test_schema_at() -> None:
    node, reason = schema_at(SCHEMA, ("env", 0, "value"))
    assert node == {"type": "string"} and reason is None
    assert schema_at(SCHEMA, ("nodeSelector", "a"))[0] == {"type": "string"}
    assert schema_at(None, ("anything", 3))[0] == {}
