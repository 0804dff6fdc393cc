"""Schema registry and resolution: overwriteSchemaWith, $ref (internal and registry), role overlays, missing
targets, cycles, invalid schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sardonyx.catalog import ResolvedSchema, SchemaRegistry, resolve_schema
from sardonyx.errors import CatalogError


def write(folder: Path, relative: str, schema: dict[str, Any]) -> None:
    target = folder / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(schema))


def test_the_22_admin_schemas_are_the_registry(registry: SchemaRegistry) -> None:
    assert len(registry.names()) == 22
    assert "ide/resources.json" in registry.names() and "network-policy.json" in registry.names()
    assert registry.get("/ide/password.json") == registry.get("ide/password.json")


def test_overwrite_schema_with_replaces_the_whole_property(registry: SchemaRegistry, onyxia_fixtures: Path) -> None:
    chart = json.loads((onyxia_fixtures / "jupyter-python" / "values.schema.json").read_text())
    resolved = resolve_schema(chart, registry)
    properties = resolved["properties"]
    assert properties["resources"] == registry.get("ide/resources.json")
    assert properties["security"]["properties"]["password"] == registry.get("ide/password.json")
    # targets the API does not ship keep the inline schema
    assert properties["ai"] == chart["properties"]["ai"]
    assert properties["networking"] == chart["properties"]["networking"]
    # the chart's own expressions are gone with the replaced nodes
    assert "x-onyxia" not in properties["resources"]["properties"]["requests"]["properties"]["cpu"]
    # the input is never changed
    assert chart["properties"]["resources"]["x-onyxia"] == {"overwriteSchemaWith": "ide/resources.json"}


def test_refs_internal_and_to_the_registry(tmp_path: Path) -> None:
    write(tmp_path, "common/port.json", {"type": "integer", "minimum": 1, "maximum": 65535, "default": 80})
    registry = SchemaRegistry([tmp_path])
    schema = {
        "type": "object",
        "definitions": {"name": {"type": "string", "pattern": "^[a-z]+$"}},
        "properties": {
            "a": {"$ref": "#/definitions/name", "title": "A", "pattern": "overridden by the ref"},
            "port": {"$ref": "common/port.json", "default": 8080},
            "dangling": {"$ref": "common/missing.json", "type": "string"},
            "items": {"type": "array", "items": [{"$ref": "#/definitions/name"}]},
        },
    }
    resolved = resolve_schema(schema, registry)
    properties = resolved["properties"]
    assert properties["a"] == {"title": "A", "type": "string", "pattern": "^[a-z]+$"}
    assert properties["port"] == {"type": "integer", "minimum": 1, "maximum": 65535, "default": 80}
    # an unresolvable $ref is dropped, the inline schema stays
    assert properties["dangling"] == {"type": "string"}
    assert properties["items"]["items"] == [{"type": "string", "pattern": "^[a-z]+$"}]
    ResolvedSchema.build(resolved, source="t").validator.validate({"a": "abc", "port": 22})


def test_role_overlays_first_role_having_the_file_wins(tmp_path: Path) -> None:
    base, roles = tmp_path / "base", tmp_path / "roles"
    write(base, "ide/password.json", {"type": "string", "default": "base"})
    write(roles / "admin", "ide/password.json", {"type": "string", "default": "admin"})
    write(roles / "student", "ide/password.json", {"type": "string", "const": "student"})
    write(roles / "student", "other.json", {"type": "string"})
    registry = SchemaRegistry([base], role_directory=roles)
    schema = {
        "type": "object",
        "properties": {"p": {"type": "string", "x-onyxia": {"overwriteSchemaWith": "ide/password.json"}}},
    }
    assert resolve_schema(schema, registry)["properties"]["p"]["default"] == "base"
    assert resolve_schema(schema, registry, ["nobody", "admin", "student"])["properties"]["p"]["default"] == "admin"
    assert resolve_schema(schema, registry, ["student", "admin"])["properties"]["p"] == {
        "type": "string",
        "const": "student",
    }
    assert registry.roles_with_overlays() == ["admin", "student"]
    assert set(registry.listing("student")) == {"ide/password.json", "other.json"}
    assert registry.listing()["ide/password.json"]["default"] == "base"


def test_later_folders_override_earlier_ones(tmp_path: Path) -> None:
    write(tmp_path / "bundled", "s.json", {"type": "string", "default": "bundled"})
    write(tmp_path / "external", "s.json", {"type": "string", "default": "external"})
    registry = SchemaRegistry([tmp_path / "bundled", tmp_path / "external"])
    assert registry.get("s.json") == {"type": "string", "default": "external"}


def test_cycles_are_resolved_once(tmp_path: Path) -> None:
    write(tmp_path, "a.json", {"type": "object", "properties": {"b": {"$ref": "b.json"}}})
    write(tmp_path, "b.json", {"type": "object", "properties": {"a": {"$ref": "a.json"}}})
    write(
        tmp_path,
        "self.json",
        {
            "type": "object",
            "properties": {"again": {"type": "object", "x-onyxia": {"overwriteSchemaWith": "self.json"}}},
        },
    )
    registry = SchemaRegistry([tmp_path])
    resolved = resolve_schema(
        {
            "type": "object",
            "properties": {
                "x": {"$ref": "a.json"},
                "y": {"type": "object", "x-onyxia": {"overwriteSchemaWith": "self.json"}},
            },
        },
        registry,
    )
    assert resolved["properties"]["x"]["properties"]["b"]["properties"]["a"] == {}
    inner = resolved["properties"]["y"]["properties"]["again"]
    assert inner["x-onyxia"] == {"overwriteSchemaWith": "self.json"}


def test_invalid_schemas_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(
        CatalogError, match=r"chart x: values.schema.json is not a valid JSON schema: .* \(at properties/a/type\)"
    ):
        ResolvedSchema.build({"type": "object", "properties": {"a": {"type": "strnig"}}}, source="chart x")
    with pytest.raises(CatalogError) as caught:
        SchemaRegistry([tmp_path / "missing"])
    assert caught.value.violations[0].reason == "schema folder does not exist"
