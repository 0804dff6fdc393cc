"""Names that reach a path or a command are RFC 1123 labels; everything else is rejected with every reason."""

from __future__ import annotations

import pytest

from sardonyx.errors import InvalidName
from sardonyx.runtimes.base import ServiceSpec
from sardonyx.runtimes.names import validate_service_names


@pytest.mark.parametrize("good", ["jupyter-python-626146", "a", "0", "user-alice", "x" * 53])
def test_valid_names_pass(good: str) -> None:
    validate_service_names(good, "user-alice")


@pytest.mark.parametrize(
    "bad",
    ["", "../etc", "a/b", "UPPER", "-lead", "trail-", "a b", "a;rm -rf /", "$(id)", "a\nb", "x" * 54, "é", "a_b"],
)
def test_injecting_or_malformed_service_ids_are_rejected(bad: str) -> None:
    with pytest.raises(InvalidName) as info:
        validate_service_names(bad, "user-alice")
    assert {v.path for v in info.value.violations} == {"id"}


def test_every_violation_is_reported_at_once() -> None:
    with pytest.raises(InvalidName) as info:
        validate_service_names("A" * 60, "../../root")
    paths = [v.path for v in info.value.violations]
    assert paths == ["id", "id", "project"]


def test_service_spec_round_trips_through_json_shapes() -> None:
    spec = ServiceSpec(
        id="s-1",
        project="user-a",
        owner="a",
        catalog_id="builtin",
        chart="c",
        version="1",
        values={"a": (1, 2), "b": {"c": None}},
        recipe={"command": ["x"]},
        discovery={"K": "V"},
        friendly_name="f",
    )
    data = spec.as_dict()
    assert data["values"] == {"a": [1, 2], "b": {"c": None}}
    assert ServiceSpec.from_dict(data).as_dict() == data
