"""The admin schema registry and chart schema resolution (``$ref``, ``x-onyxia.overwriteSchemaWith``).

As onyxia-api does it (``JsonSchemaRegistryService``, ``JsonSchemaResolutionService``; ONYXIA-REFERENCE 1.10):

- the registry maps relative paths (``ide/resources.json``) to JSON schemas read from one or more folders
  (later folders override earlier ones, like the external directory overrides the bundled schemas); per-role
  overlays live in ``<role dir>/<role>/<relative path>`` and the first role of the user that has the file wins;
- resolution walks the chart schema: a ``$ref`` to ``#/definitions/...`` (any JSON pointer into the chart schema)
  or to a registry path is resolved recursively and merged into its node; a property whose
  ``x-onyxia.overwriteSchemaWith`` names a registry file is replaced entirely by that (resolved) schema; a
  missing target leaves the node as it is (an unresolvable ``$ref`` is dropped so that validation can run).

The resolved schema is the single object used to build the launch form and to validate what is launched.
It is checked against its JSON-schema metaschema once, and its validator compiled once (``ResolvedSchema``).
"""

from __future__ import annotations

import copy
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.exceptions import SchemaError
from jsonschema.protocols import Validator

from sardonyx.errors import CatalogError, Violation

_MAX_DEPTH = 64


class SchemaRegistry:
    """Admin JSON schemas by relative path, with per-role overlays.

    Args:
        directories: folders of ``*.json`` schemas; a path found in several folders comes from the last one.
        role_directory: folder of per-role overlays, ``<role_directory>/<role>/<relative path>``.
        schemas: schemas given directly (relative path -> schema), applied after ``directories``.

    Raises:
        CatalogError: a schema file that is not valid JSON, or not a JSON object (every bad file listed).
    """

    def __init__(
        self,
        directories: Sequence[Path] = (),
        *,
        role_directory: Path | None = None,
        schemas: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        violations: list[Violation] = []
        self._schemas: dict[str, Mapping[str, Any]] = {}
        for directory in directories:
            self._schemas.update(_read_schema_folder(directory, violations))
        if schemas:
            self._schemas.update(schemas)
        self._roles: dict[str, dict[str, Mapping[str, Any]]] = {}
        if role_directory is not None and role_directory.is_dir():
            for role_folder in sorted(p for p in role_directory.iterdir() if p.is_dir()):
                self._roles[role_folder.name] = _read_schema_folder(role_folder, violations)
        if violations:
            raise CatalogError("the schema registry holds invalid schemas", violations=violations)

    @classmethod
    def empty(cls) -> SchemaRegistry:
        return cls()

    def get(self, name: str, roles: Sequence[str] = ()) -> Mapping[str, Any] | None:
        """The schema at ``name`` for a user with ``roles`` (first role overlay having it wins); None if absent."""
        key = _normalise(name)
        for role in roles:
            overlay = self._roles.get(role)
            if overlay is not None and key in overlay:
                return overlay[key]
        return self._schemas.get(key)

    def names(self) -> list[str]:
        return sorted(self._schemas)

    def listing(self, role: str | None = None) -> dict[str, Mapping[str, Any]]:
        """Every schema (relative path -> schema) as a user of ``role`` sees it (``GET /public/schemas``)."""
        merged = dict(self._schemas)
        if role is not None:
            merged.update(self._roles.get(role, {}))
        return dict(sorted(merged.items()))

    def roles_with_overlays(self) -> list[str]:
        return sorted(self._roles)


def _normalise(name: str) -> str:
    return name.strip().lstrip("/").replace("\\", "/")


def _read_schema_folder(directory: Path, violations: list[Violation]) -> dict[str, Mapping[str, Any]]:
    schemas: dict[str, Mapping[str, Any]] = {}
    if not directory.is_dir():
        violations.append(Violation(str(directory), "schema folder does not exist"))
        return schemas
    for path in sorted(directory.rglob("*.json")):
        if not path.is_file():
            continue
        key = path.relative_to(directory).as_posix()
        try:
            parsed = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as error:
            violations.append(Violation(str(path), f"not valid JSON: {error}"))
            continue
        if not isinstance(parsed, Mapping):
            violations.append(Violation(str(path), "a schema must be a JSON object"))
            continue
        schemas[key] = parsed
    return schemas


def resolve_schema(schema: Mapping[str, Any], registry: SchemaRegistry, roles: Sequence[str] = ()) -> dict[str, Any]:
    """A deep copy of ``schema`` with ``$ref`` and ``x-onyxia.overwriteSchemaWith`` resolved (see module doc).

    A registry schema that refers back to itself is resolved once, never endlessly.
    """
    root = copy.deepcopy(dict(schema))
    resolved = _Resolution(root, registry, tuple(roles)).node(root, (), 0)
    return resolved if isinstance(resolved, dict) else root


@dataclass(frozen=True)
class _Resolution:
    root: Mapping[str, Any]
    registry: SchemaRegistry
    roles: tuple[str, ...]

    def node(self, node: Any, chain: tuple[str, ...], depth: int) -> Any:
        """Resolve one node; ``chain`` holds the references being resolved (cycle guard)."""
        if depth > _MAX_DEPTH:
            return node
        if isinstance(node, list):
            return [self.node(item, chain, depth + 1) for item in node]
        if not isinstance(node, dict):
            return node
        result: dict[str, Any] = {}
        merged_ref: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                target = self.reference(value)
                if target is not None and value not in chain:
                    resolved = self.node(copy.deepcopy(target), (*chain, value), depth + 1)
                    if isinstance(resolved, dict):
                        merged_ref.update(resolved)
                continue
            overwrite = _overwrite_target(value)
            if overwrite is not None:
                replacement = self.registry.get(overwrite, self.roles)
                if replacement is not None and overwrite not in chain:
                    result[key] = self.node(copy.deepcopy(dict(replacement)), (*chain, overwrite), depth + 1)
                    continue
            result[key] = self.node(value, chain, depth + 1)
        # like onyxia-api, the referenced schema's keys win over the node's own siblings
        result.update(merged_ref)
        return result

    def reference(self, ref: str) -> Any:
        if ref.startswith("#"):
            return _json_pointer(self.root, ref[1:])
        return self.registry.get(ref, self.roles)


def _overwrite_target(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    x_onyxia = value.get("x-onyxia")
    if not isinstance(x_onyxia, dict):
        return None
    target = x_onyxia.get("overwriteSchemaWith")
    return target if isinstance(target, str) and target else None


def _json_pointer(document: Any, pointer: str) -> Any:
    if pointer in ("", "/"):
        return document
    current = document
    for raw in pointer.lstrip("/").split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current


@dataclass(eq=False)
class ResolvedSchema:
    """A chart's resolved schema, checked against its metaschema, with its validator compiled once.

    ``schema`` is shared by every caller: never mutate it. ``validator`` validates whole values trees.
    """

    schema: Mapping[str, Any]
    source: str = ""
    _validator: Validator | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def build(cls, schema: Mapping[str, Any], *, source: str) -> ResolvedSchema:
        """Check ``schema`` and compile its validator (draft from ``$schema``, draft 7 by default).

        Raises:
            CatalogError: the schema is not a valid JSON schema (``source`` names the chart in the message).
        """
        validator_class = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
        try:
            validator_class.check_schema(dict(schema))
        except SchemaError as error:
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            raise CatalogError(
                f"{source}: values.schema.json is not a valid JSON schema: {error.message} (at {where})",
                violations=[Violation(where, error.message)],
            ) from error
        resolved = cls(schema=schema, source=source)
        resolved._validator = validator_class(schema)
        return resolved

    @property
    def validator(self) -> Validator:
        if self._validator is None:  # pragma: no cover - build() always compiles it
            with self._lock:
                if self._validator is None:
                    cls = jsonschema.validators.validator_for(self.schema, default=jsonschema.Draft7Validator)
                    self._validator = cls(self.schema)
        return self._validator


class ResolvedSchemaCache:
    """Resolved schemas by (chart version, schema digest, roles), least recently used evicted first.

    Thread-safe; a resolution is computed outside the lock (two threads may compute the same one once each).
    """

    def __init__(self, registry: SchemaRegistry, *, capacity: int = 256) -> None:
        self.registry = registry
        self._capacity = capacity
        self._entries: OrderedDict[tuple[Any, ...], ResolvedSchema] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self, key: tuple[Any, ...], schema: Mapping[str, Any], roles: Sequence[str], *, source: str
    ) -> ResolvedSchema:
        """The resolved schema for ``key`` + ``roles``; computed, checked and compiled on first use.

        Raises:
            CatalogError: the resolved schema is not a valid JSON schema.
        """
        full_key = (*key, tuple(roles))
        with self._lock:
            found = self._entries.get(full_key)
            if found is not None:
                self._entries.move_to_end(full_key)
                return found
        resolved = ResolvedSchema.build(resolve_schema(schema, self.registry, roles), source=source)
        with self._lock:
            self._entries[full_key] = resolved
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)
        return resolved

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
