"""x-onyxia value references: paths, templates, literals (cases after Onyxia's resolveXOnyxiaValueReference)."""

from __future__ import annotations

from typing import Any

import pytest

from sardonyx.catalog.expressions import mentions_root_key, parse_context_path, resolve_expression, scalar_text
from sardonyx.catalog.jsonvalues import MISSING

CONTEXT: dict[str, Any] = {
    "a": {"b": {"c": 42, "c1": "bar", "list": ["", "yes", ""], "objs": ["", {"c": "deep"}]}},
    "dotted": {"b.c": {"d": 7}},
    "project": {"id": "user-bob"},
    "k8s": {"randomSubdomain": "626146", "domain": "lab.example.org", "ingress": True},
    "none": None,
    "f": {"half": 0.5, "whole": 2.0},
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("{{a.b.c}}", 42),
        ("a.b.c", 42),
        ("a.b", CONTEXT["a"]["b"]),
        ("a.b.c1", "bar"),
        ("{{a.b.c1}}-{{a.b.c}}", "bar-42"),
        ("{{a.b.c}}-postfix", "42-postfix"),
        ("a['b'].c", 42),
        ('a["b"].c', 42),
        ("a.b.list[1]", "yes"),
        ("a.b.objs[1].c", "deep"),
        ('dotted["b.c"].d', 7),
        ("{{project.id}}-{{k8s.randomSubdomain}}-0.{{k8s.domain}}", "user-bob-626146-0.lab.example.org"),
        ("k8s.ingress", True),
        ("{{k8s.ingress}}", True),
        ("x-{{k8s.ingress}}", "x-true"),
        ("{{f.half}}/{{f.whole}}", "0.5/2"),
        ("{{ project.id }}", "user-bob"),
        (["a", "b", "{{a.b.c}}"], ["a", "b", 42]),
        ({"a": "a", "c": "{{a.b.c}}"}, {"a": "a", "c": 42}),
        # inside a literal, a string without {{ }} is a plain string, not a path
        ({"a": "a", "c": "a.b.c"}, {"a": "a", "c": "a.b.c"}),
        ({"nested": ["{{a.b.c1}}", {"x": "{{a.b.c}}"}]}, {"nested": ["bar", {"x": 42}]}),
        (3, 3),
        (True, True),
    ],
)
def test_resolves(expression: Any, expected: Any) -> None:
    assert resolve_expression(expression, CONTEXT) == expected


@pytest.mark.parametrize(
    "expression",
    [
        "a.notExisting.c[1]",
        "{{a.notExisting.c[1]}}-postfix",
        "s3.AWS_BUCKET_NAME",
        "s3://{{s3.AWS_BUCKET_NAME}}/mlflow-artifacts",
        "{{a.b}}-x",  # a non-scalar placeholder
        "{{none}}-x",  # null is not a scalar in a template
        "a.b.list[7]",
        "a.b.c.d",
        {"a": "a", "c": "{{a.b.notExisting}}"},
        ["a", "{{a.b.notExisting}}"],
    ],
)
def test_unresolvable(expression: Any) -> None:
    assert resolve_expression(expression, CONTEXT) is MISSING


def test_null_is_a_value_not_missing() -> None:
    assert resolve_expression("none", CONTEXT) is None


def test_path_parsing() -> None:
    assert parse_context_path('a.b[0]["k.with.dots"].c') == ["a", "b", "0", "k.with.dots", "c"]
    assert parse_context_path("user.decodedIdToken.groups[0]") == ["user", "decodedIdToken", "groups", "0"]


def test_scalar_text_like_javascript() -> None:
    assert [scalar_text(v) for v in (True, False, 3, 3.0, 1.25, "s")] == ["true", "false", "3", "3", "1.25", "s"]
    assert scalar_text(None) is None
    assert scalar_text([1]) is None
    assert scalar_text(float("nan")) is None


def test_mentions_root_key() -> None:
    assert mentions_root_key("{{s3.AWS_ACCESS_KEY_ID}}", "s3")
    assert mentions_root_key("s3.AWS_S3_ENDPOINT", "s3")
    assert mentions_root_key("https://{{s3.AWS_S3_ENDPOINT}}/x", "s3")
    assert mentions_root_key(["{{s3.port}}"], "s3")
    assert not mentions_root_key("{{project.id}}", "s3")
    assert not mentions_root_key(["s3.x"], "s3")  # a plain string in a literal is not a reference
