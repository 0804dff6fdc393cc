"""User overrides of the default values: ``--set`` options, launch-URL parameters and web-form fields.

Three spellings, one ``Override`` type:

- ``--set a.b[0].c=text`` (``Override.from_set``): the path uses dots, ``[i]`` list indexes and ``\\.`` for a dot
  inside a key; the text is typed by the resolved schema: a string field keeps the text as it is (``"0042"``
  stays a string), booleans accept ``true``/``false``, integers and numbers their decimal forms, a ``null``
  type ``null``, arrays and objects JSON/YAML flow text (``[a, b]``, ``{"k": "v"}``); a field the schema does
  not type is typed like Helm's ``--set`` (true/false/null/integers, else text);
- launch-URL parameters (``parse_launch_url``, ONYXIA-REFERENCE 4.2): ``true``, ``false``, ``null``, a number,
  ``«text»`` for a string, ``-`` to remove the key; ``name``, ``version``, ``s3``, ``autoLaunch`` and ``shared``
  are the launcher's own parameters;
- typed values from a form (``Override.typed``), or text from a form input (``Override.from_text``).

``apply_overrides`` checks every path against the schema (a path the schema does not have, or a value of the
wrong type, is a violation) and returns the new values with every violation; validation of the whole tree
follows (``compute.compute_values``).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import yaml

from sardonyx.catalog.jsonvalues import ValuesPath, compact_json, format_path, json_copy, json_type_of
from sardonyx.catalog.values import schema_type
from sardonyx.errors import BadRequest, Violation

_INTEGER: Final = re.compile(r"^[+-]?\d+$")
_NUMBER: Final = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
_FREE: Final[Mapping[str, Any]] = {}
"""The schema of a value the chart schema does not describe (free objects, charts without schema)."""

LAUNCHER_PARAMETERS: Final = frozenset({"name", "version", "s3", "autoLaunch", "shared"})
"""Launch-URL parameters that are the launcher's own, not values (``ui/pages/launcher/route.ts``)."""


def parse_values_path(text: str) -> ValuesPath:  # noqa: PLR0912 - a small tokenizer
    """``a.b\\.c[0].d`` -> ``("a", "b.c", 0, "d")``.

    Raises:
        ValueError: empty path, empty key, or a malformed ``[index]``.
    """
    parts: list[str | int] = []
    key = ""
    key_started = False
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            key += text[i + 1]
            key_started = True
            i += 2
            continue
        if char == ".":
            if not key_started:
                raise ValueError(f"empty key in path {text!r}")
            parts.append(key)
            key, key_started = "", False
            i += 1
            continue
        if char == "[":
            end = text.find("]", i)
            if end < 0 or not text[i + 1 : end].isdigit():
                raise ValueError(f"malformed list index in path {text!r} (expected [0], [1], ...)")
            if key_started:
                parts.append(key)
                key, key_started = "", False
            elif not parts:
                raise ValueError(f"path {text!r} starts with a list index")
            parts.append(int(text[i + 1 : end]))
            i = end + 1
            if i < len(text) and text[i] not in ".[":
                raise ValueError(f"expected '.' or '[' after ']' in path {text!r}")
            if i < len(text) and text[i] == ".":
                i += 1
                if i >= len(text):
                    raise ValueError(f"path {text!r} ends with '.'")
            continue
        key += char
        key_started = True
        i += 1
    if key_started:
        parts.append(key)
    elif not parts or text.endswith("."):
        raise ValueError(f"empty key in path {text!r}" if text else "empty path")
    return tuple(parts)


@dataclass(frozen=True)
class Override:
    """One change to the default values at ``path``.

    Exactly one of: ``text`` (untyped text, typed by the schema when applied), ``value`` (an already typed JSON
    value), ``unset=True`` (remove the key). ``origin`` is how the user wrote it, for messages.
    """

    path: ValuesPath
    value: Any = None
    text: str | None = None
    unset: bool = False
    origin: str = ""

    @classmethod
    def from_set(cls, option: str) -> Override:
        """Parse one ``--set path=text`` option (the first unescaped ``=`` separates path and text).

        Raises:
            BadRequest: no ``=``, or a malformed path.
        """
        index = _unescaped_equals(option)
        if index < 0:
            raise BadRequest(f"--set {option!r}: expected PATH=VALUE", violations=[Violation(option, "no '='")])
        raw_path, text = option[:index], option[index + 1 :]
        try:
            path = parse_values_path(raw_path)
        except ValueError as error:
            raise BadRequest(f"--set {option!r}: {error}", violations=[Violation(raw_path, str(error))]) from error
        return cls(path=path, text=text, origin=f"--set {option}")

    @classmethod
    def from_text(cls, path: ValuesPath | str, text: str) -> Override:
        """Text from a form input, typed by the schema like ``--set``."""
        return cls(path=_as_path(path), text=text, origin=f"{_path_text(path)}={text}")

    @classmethod
    def typed(cls, path: ValuesPath | str, value: Any) -> Override:
        """An already typed JSON value (checked against the schema's type, never converted)."""
        return cls(path=_as_path(path), value=value, origin=f"{_path_text(path)}={compact_json(value)}")

    @classmethod
    def remove(cls, path: ValuesPath | str) -> Override:
        """Remove the key at ``path`` (launch-URL ``-``)."""
        return cls(path=_as_path(path), unset=True, origin=f"{_path_text(path)}=-")


def _as_path(path: ValuesPath | str) -> ValuesPath:
    return parse_values_path(path) if isinstance(path, str) else tuple(path)


def _path_text(path: ValuesPath | str) -> str:
    return path if isinstance(path, str) else format_path(path)


def _unescaped_equals(text: str) -> int:
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == "=":
            return i
        i += 1
    return -1


def parse_set_options(options: Sequence[str]) -> list[Override]:
    """Parse every ``--set`` option; all syntax errors are reported at once.

    Raises:
        BadRequest: one violation per malformed option.
    """
    overrides: list[Override] = []
    violations: list[Violation] = []
    for option in options:
        try:
            overrides.append(Override.from_set(option))
        except BadRequest as error:
            violations.extend(error.violations)
    if violations:
        raise BadRequest("malformed --set options", violations=violations)
    return overrides


@dataclass(frozen=True)
class LaunchUrlParameters:
    """The launcher's URL query (``/launcher/<catalog>/<chart>?...``), parsed."""

    friendly_name: str | None = None
    version: str | None = None
    s3_profile: str | None = None
    auto_launch: bool = False
    shared: bool | None = None
    overrides: list[Override] = field(default_factory=list)


def parse_launch_url_value(raw: str) -> tuple[Any, bool]:  # noqa: PLR0911 - one return per syntax
    """One launch-URL value (already query-decoded): returns ``(value, unset)``.

    ``true``/``false``/``null``/numbers are typed, ``«text»`` is the string ``text``, ``-`` removes the key;
    anything else is taken as a plain string.
    """
    if raw == "-":
        return None, True
    if raw.startswith("«") and raw.endswith("»") and len(raw) >= 2:
        return raw[1:-1], False
    if raw in ("true", "false"):
        return raw == "true", False
    if raw == "null":
        return None, False
    if _INTEGER.match(raw):
        return int(raw), False
    if _NUMBER.match(raw):
        number = float(raw)
        if math.isfinite(number):
            return number, False
    return raw, False


def parse_launch_url(params: Mapping[str, str] | Iterable[tuple[str, str]]) -> LaunchUrlParameters:
    """Parse a launch URL's query parameters (query-decoded ``(name, value)`` pairs, or a mapping).

    Raises:
        BadRequest: malformed values paths (all listed).
    """
    pairs = list(params.items()) if isinstance(params, Mapping) else list(params)
    found: dict[str, str] = {}
    overrides: list[Override] = []
    violations: list[Violation] = []
    for name, raw in pairs:
        if name in LAUNCHER_PARAMETERS:
            found[name] = raw
            continue
        try:
            path = parse_values_path(name)
        except ValueError as error:
            violations.append(Violation(name, str(error)))
            continue
        value, unset = parse_launch_url_value(raw)
        origin = f"{name}={raw}"
        overrides.append(
            Override(path=path, unset=True, origin=origin) if unset else Override(path, value, origin=origin)
        )
    if violations:
        raise BadRequest("malformed launch URL parameters", violations=violations)
    shared = found.get("shared")
    return LaunchUrlParameters(
        friendly_name=found.get("name"),
        version=found.get("version"),
        s3_profile=found.get("s3"),
        auto_launch=found.get("autoLaunch") == "true",
        shared=None if shared is None else shared == "true",
        overrides=overrides,
    )


def format_launch_url_value(value: Any) -> str:
    """The launch-URL spelling of a value (inverse of ``parse_launch_url_value``; not yet percent-encoded)."""
    if isinstance(value, str):
        return f"«{value}»"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return compact_json(value)
    return f"«{compact_json(value)}»"


# ---------------------------------------------------------------------------------------------------------
# applying overrides


def schema_at(schema: Mapping[str, Any] | None, path: ValuesPath) -> tuple[Mapping[str, Any] | None, str | None]:
    """The schema node describing ``path``: ``(node, None)``, or ``(None, reason)`` when the schema has no
    such value. A path under a value the schema leaves free (or with no schema) gets an untyped node."""
    node: Mapping[str, Any] = _FREE if schema is None else schema
    for depth, part in enumerate(path):
        where = format_path(path[:depth]) or "the values"
        kind = schema_type(node)
        properties = node.get("properties")
        if isinstance(part, int):
            if kind not in (None, "array"):
                return None, f"{where} is {_a(kind)}, not a list"
            items = node.get("items")
            node = items if isinstance(items, Mapping) else _FREE
            continue
        if kind == "array":
            return None, f"{where} is a list: use an index such as {format_path((*path[:depth], 0))}"
        if kind not in (None, "object"):
            return None, f"{where} is {_a(kind)}, it has no field {part!r}"
        if isinstance(properties, Mapping) and isinstance(properties.get(part), Mapping):
            node = properties[part]
            continue
        additional = node.get("additionalProperties")
        if isinstance(additional, Mapping):
            node = additional
        elif additional is True or (additional is None and not isinstance(properties, Mapping)):
            node = _FREE
        else:
            return None, f"the chart's schema has no value {format_path(path[: depth + 1])}{_suggest(part, properties)}"
    return node, None


def _suggest(name: str, properties: Any) -> str:
    if not isinstance(properties, Mapping) or not properties:
        return ""
    names = sorted(str(p) for p in properties)
    close = difflib.get_close_matches(name, names, n=3)
    if close:
        return f" (did you mean {' or '.join(close)}?)"
    return f" (its fields: {', '.join(names)})" if len(names) <= 8 else ""


def _a(kind: str | None) -> str:
    names = {"object": "an object", "array": "a list", "integer": "an integer", "boolean": "a boolean"}
    return names.get(kind or "", f"a {kind}")


def type_text(node: Mapping[str, Any], text: str) -> Any:
    """Type ``--set`` text by the node's schema type (see the module docstring).

    Raises:
        ValueError: the text is not a value of that type (the message says what was expected).
    """
    declared = node.get("type")
    if declared is None and "const" in node:
        declared = schema_type(node)
    if isinstance(declared, list):
        order = ["null", "boolean", "integer", "number", "array", "object", "string"]
        for kind in sorted(
            (k for k in declared if isinstance(k, str)), key=lambda k: order.index(k) if k in order else 99
        ):
            try:
                return _type_as(kind, text)
            except ValueError:
                continue
        raise ValueError(f"expected one of {', '.join(map(str, declared))}, got {text!r}")
    if isinstance(declared, str):
        return _type_as(declared, text)
    return _helm_typed(text)


def _type_as(kind: str, text: str) -> Any:  # noqa: PLR0911, PLR0912 - one branch per JSON type
    if kind == "string":
        return text
    if kind == "boolean":
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise ValueError(f"expected true or false, got {text!r}")
    if kind == "integer":
        if _INTEGER.match(text.strip()):
            return int(text)
        raise ValueError(f"expected an integer, got {text!r}")
    if kind == "number":
        stripped = text.strip()
        if _INTEGER.match(stripped):
            return int(stripped)
        if _NUMBER.match(stripped) and math.isfinite(float(stripped)):
            return float(stripped)
        raise ValueError(f"expected a number, got {text!r}")
    if kind == "null":
        if text == "null":
            return None
        raise ValueError(f"expected null, got {text!r}")
    if kind in ("array", "object"):
        try:
            parsed = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError as error:
            raise ValueError(f"expected {_a(kind)} written in JSON or YAML, got {text!r}") from error
        expected = list if kind == "array" else dict
        if not isinstance(parsed, expected):
            example = "[a, b]" if kind == "array" else '{"key": "value"}'
            raise ValueError(f"expected {_a(kind)} such as {example}, got {text!r}")
        return parsed
    return text


def _helm_typed(text: str) -> Any:
    """Helm's ``--set`` typing for values no schema describes: true/false, null, integers, else text."""
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    if _INTEGER.match(text) and (text == "0" or not text.lstrip("+-").startswith("0")):
        return int(text)
    return text


def check_type(node: Mapping[str, Any], value: Any) -> tuple[Any, str | None]:
    """Check an already typed value against the node's type: ``(value, None)`` (an integral float becomes an
    int for an integer field), or ``(value, reason)``."""
    declared = node.get("type")
    if declared is None and "const" in node:
        declared = schema_type(node)
    kinds = [declared] if isinstance(declared, str) else declared if isinstance(declared, list) else None
    if not kinds:
        return value, None
    actual = json_type_of(value)
    if actual in kinds or (actual == "integer" and "number" in kinds):
        if actual == "integer" and isinstance(value, float):
            return int(value), None
        return value, None
    shown = compact_json(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    expected = " or ".join(_a(k) for k in kinds)
    return value, f"expected {expected}, got {_a(actual)} ({shown})"


def apply_overrides(
    values: Mapping[str, Any], overrides: Sequence[Override], schema: Mapping[str, Any] | None
) -> tuple[dict[str, Any], list[Violation]]:
    """Apply ``overrides`` in order to a copy of ``values``; returns the new values and every violation
    (unknown path, wrong type, list index past the end). An override with a violation is not applied."""
    result: dict[str, Any] = json_copy(dict(values))
    violations: list[Violation] = []
    for override in overrides:
        path_text = format_path(override.path)
        if not override.path:
            violations.append(Violation("", f"{override.origin or 'override'}: empty path"))
            continue
        node, reason = schema_at(schema, override.path)
        if node is None:
            violations.append(Violation(path_text, reason or "not in the chart's schema"))
            continue
        if override.unset:
            _remove(result, override.path)
            continue
        if override.text is not None:
            try:
                value = type_text(node, override.text)
            except ValueError as error:
                violations.append(Violation(path_text, str(error)))
                continue
        else:
            value, problem = check_type(node, override.value)
            if problem is not None:
                violations.append(Violation(path_text, problem))
                continue
        problem = _assign(result, override.path, json_copy(value))
        if problem is not None:
            violations.append(Violation(path_text, problem))
    return result, violations


def _assign(root: dict[str, Any], path: ValuesPath, value: Any) -> str | None:
    container: Any = root
    for depth, part in enumerate(path):
        last = depth == len(path) - 1
        following: Any = value if last else ([] if isinstance(path[depth + 1], int) else {})
        if isinstance(part, int):
            if not isinstance(container, list):
                return f"{format_path(path[:depth]) or 'the values'} is not a list"
            if part > len(container):
                return f"index {part} is past the end of {format_path(path[:depth])} (it has {len(container)} items)"
            if part == len(container):
                container.append(following)
            elif last or not isinstance(container[part], list | dict):
                container[part] = following
        else:
            if not isinstance(container, dict):
                return f"{format_path(path[:depth]) or 'the values'} is not an object"
            if last or not isinstance(container.get(part), list | dict):
                container[part] = following
        container = container[part]
    return None


def _remove(root: dict[str, Any], path: ValuesPath) -> None:
    container: Any = root
    for part in path[:-1]:
        if isinstance(part, int):
            if not isinstance(container, list) or part >= len(container):
                return
        elif not isinstance(container, dict) or part not in container:
            return
        container = container[part]
    last = path[-1]
    if isinstance(last, int) and isinstance(container, list) and last < len(container):
        del container[last]
    elif isinstance(last, str) and isinstance(container, dict):
        container.pop(last, None)
