"""Values computation: a chart's resolved schema + ``values.yaml`` + the launch context -> default Helm values.

This is a port of the semantics of Onyxia's launcher (``computeHelmValues.ts``, ``resolveEnum.ts``,
``validateValueAgainstJSONSchema*.ts``; ONYXIA-REFERENCE 3.4), the one place where Sardonyx computes values.
Per node of the schema:

1. ``const`` wins;
2. an object with ``properties`` recurses into them (values.yaml followed alongside);
3. ``x-onyxia.overwriteDefaultWith``, when it resolves (see ``expressions``); for an array of objects whose
   resolved value is an array of objects, each item is re-mapped through the item schema, whose properties
   default to ``{{<propertyName>}}`` of the item;
4. ``default``;
5. the chart's ``values.yaml`` value;
6. for arrays, ``minItems`` copies of the item default, else ``[]``.

A candidate of steps 3 and 5 is checked against the node's schema (type, ``pattern``, ``minimum``/``maximum``,
slider bounds and unit, ``minItems``/``maxItems``, options): when invalid, Onyxia's "reasonable approximation"
is used if there is one (``"true"`` -> ``true``, ``42`` -> ``"42"``, ``null`` -> ``""``...), else the next
source is tried. A ``default`` must be valid as it is. A node with no source at all is left out (Onyxia would
stop with an assertion; a missing key is what a user expects, and validation reports it when it is required).

Options of a select (``resolve_options``): ``x-onyxia.overwriteListEnumWith`` (each option checked, invalid
ones approximated or dropped) > ``listEnum`` > ``enum`` (a list with an invalid option is ignored).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final

from sardonyx.catalog.expressions import resolve_expression, scalar_text
from sardonyx.catalog.jsonvalues import MISSING, Missing, json_copy, json_type_of, same

_NUMBER_PREFIX: Final = re.compile(r"^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_BOOLEAN_WORDS: Final = {
    "true": True,
    "false": False,
    "yes": True,
    "no": False,
    "1": True,
    "0": False,
    "on": True,
    "off": False,
}

Approximation = Any | Missing


def schema_type(schema: Mapping[str, Any]) -> str | None:  # noqa: PLR0911 - one return per JSON type
    """The node's type: ``type`` when it is a single type name, else inferred from ``const`` (as Onyxia's
    ``getJSONSchemaType``), else ``object`` for a node with ``properties`` and ``array`` for one with ``items``
    (Onyxia requires a type; such charts exist); None for an untyped node or a list of types."""
    declared = schema.get("type")
    if isinstance(declared, str):
        return declared
    if declared is None and "const" not in schema:
        if isinstance(schema.get("properties"), Mapping):
            return "object"
        if isinstance(schema.get("items"), Mapping):
            return "array"
        return None
    if declared is None and "const" in schema:
        const = schema["const"]
        if isinstance(const, bool):
            return "boolean"
        if isinstance(const, int | float):
            return "number"
        if isinstance(const, str):
            return "string"
        if isinstance(const, list):
            return "array"
        if isinstance(const, dict):
            return "object"
    return None


@lru_cache(maxsize=1024)
def _regex(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


def parse_float_prefix(text: str) -> float | None:
    """JavaScript's ``parseFloat``: the number at the start of ``text`` ("2Gi" -> 2.0), None if there is none."""
    match = _NUMBER_PREFIX.match(text)
    return float(match.group(0)) if match else None


def _slider_in_bounds(schema: Mapping[str, Any], number: float) -> bool:
    low, high = schema.get("sliderMin"), schema.get("sliderMax")
    if isinstance(low, int | float) and number < low:
        return False
    return not (isinstance(high, int | float) and number > high)


def _string_ok(schema: Mapping[str, Any], text: str) -> bool:
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        compiled = _regex(pattern)
        if compiled is not None and compiled.search(text) is None:
            return False
    unit = schema.get("sliderUnit")
    if isinstance(unit, str):
        if not text.endswith(unit):
            return False
        number = parse_float_prefix(text[: len(text) - len(unit)] if unit else text)
        if number is None or not _slider_in_bounds(schema, number):
            return False
    return True


def _number_ok(schema: Mapping[str, Any], kind: str, number: float) -> bool:
    minimum, maximum = schema.get("minimum"), schema.get("maximum")
    if isinstance(minimum, int | float) and not isinstance(minimum, bool) and number < minimum:
        return False
    if isinstance(maximum, int | float) and not isinstance(maximum, bool) and number > maximum:
        return False
    if not _slider_in_bounds(schema, number):
        return False
    return not (kind == "integer" and number != int(number))


def _as_number(kind: str, number: float) -> int | float:
    return int(number) if kind == "integer" or number.is_integer() else number


def check_value_no_options(  # noqa: PLR0911 - one return per JSON type of the value
    schema: Mapping[str, Any], value: Any, context: Mapping[str, Any]
) -> tuple[bool, Approximation]:
    """Is ``value`` valid for the node (ignoring its options)? Returns ``(True, MISSING)``, or ``(False,
    approximation)`` where the approximation is ``MISSING`` when there is none (``validateValueAgainst
    JSONSchema_noEnumCheck.ts``)."""
    kind = schema_type(schema)
    if kind is None:
        return _check_untyped(schema, value)
    if isinstance(value, str):
        return _check_string(schema, kind, value)
    if isinstance(value, bool):
        return _check_boolean(schema, kind, value)
    if isinstance(value, int | float):
        return _check_number(schema, kind, value)
    if value is None:
        return _check_null(schema, kind)
    if isinstance(value, list):
        return _check_array(schema, kind, value, context)
    if isinstance(value, dict):
        return _check_object(schema, kind, value, context)
    return False, MISSING


def _check_untyped(schema: Mapping[str, Any], value: Any) -> tuple[bool, Approximation]:
    declared = schema.get("type")
    if isinstance(declared, list):
        actual = json_type_of(value)
        allowed = set(declared)
        ok = actual in allowed or (actual == "integer" and "number" in allowed)
        return ok, MISSING
    return True, MISSING


def _check_string(schema: Mapping[str, Any], kind: str, value: str) -> tuple[bool, Approximation]:
    if kind == "string":
        return _string_ok(schema, value), MISSING
    if kind == "boolean":
        word = _BOOLEAN_WORDS.get(value.lower())
        return False, MISSING if word is None else word
    if kind in ("integer", "number"):
        number = parse_float_prefix(value)
        if number is None or not _number_ok(schema, kind, number):
            return False, MISSING
        return False, _as_number(kind, number)
    return False, MISSING


def _check_boolean(schema: Mapping[str, Any], kind: str, value: bool) -> tuple[bool, Approximation]:
    if kind == "boolean":
        return True, MISSING
    if kind == "string":
        text = "true" if value else "false"
        return False, text if _string_ok(schema, text) else MISSING
    if kind in ("integer", "number"):
        number = 1 if value else 0
        return False, number if _number_ok(schema, kind, number) else MISSING
    return False, MISSING


def _check_number(schema: Mapping[str, Any], kind: str, value: float) -> tuple[bool, Approximation]:
    if kind in ("integer", "number"):
        return _number_ok(schema, kind, value), MISSING
    if kind == "string":
        text = scalar_text(value)
        return False, text if text is not None and _string_ok(schema, text) else MISSING
    if kind == "boolean":
        return False, value != 0
    return False, MISSING


def _check_null(schema: Mapping[str, Any], kind: str) -> tuple[bool, Approximation]:
    if kind == "string":
        return False, "" if _string_ok(schema, "") else MISSING
    if kind == "boolean":
        return False, False
    if kind in ("integer", "number"):
        return False, 0 if _number_ok(schema, kind, 0) else MISSING
    return False, MISSING


def _check_array(
    schema: Mapping[str, Any], kind: str, value: list[Any], context: Mapping[str, Any]
) -> tuple[bool, Approximation]:
    if kind != "array":
        return False, MISSING
    min_items, max_items = schema.get("minItems"), schema.get("maxItems")
    if isinstance(min_items, int) and len(value) < min_items:
        return False, MISSING
    if isinstance(max_items, int) and len(value) > max_items:
        return False, MISSING
    items = schema.get("items")
    if not isinstance(items, Mapping):
        return True, MISSING
    approximated = False
    out: list[Any] = []
    for element in value:
        ok, approximation = check_value(items, element, context)
        if ok:
            out.append(element)
            continue
        if approximation is MISSING:
            return False, MISSING
        approximated = True
        out.append(approximation)
    return (False, out) if approximated else (True, MISSING)


def _check_object(
    schema: Mapping[str, Any], kind: str, value: dict[str, Any], context: Mapping[str, Any]
) -> tuple[bool, Approximation]:
    if kind != "object":
        return False, MISSING
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return True, MISSING
    approximated = False
    out: dict[str, Any] = {}
    for key, child in properties.items():
        if key not in value:
            return False, MISSING
        if not isinstance(child, Mapping):
            out[key] = value[key]
            continue
        ok, approximation = check_value(child, value[key], context)
        if ok:
            out[key] = value[key]
            continue
        if approximation is MISSING:
            return False, MISSING
        approximated = True
        out[key] = approximation
    if len(value) > len(properties):
        approximated = True
    return (False, out) if approximated else (True, MISSING)


def check_value(schema: Mapping[str, Any], value: Any, context: Mapping[str, Any]) -> tuple[bool, Approximation]:
    """``check_value_no_options``, then the value (or its approximation) must be one of the node's options."""
    ok, approximation = check_value_no_options(schema, value, context)
    options = resolve_options(schema, context)
    if options is not None:
        candidate = value if ok else approximation
        if candidate is not MISSING and not any(same(option, candidate) for option in options):
            return False, MISSING
    return ok, approximation


def resolve_options(schema: Mapping[str, Any], context: Mapping[str, Any]) -> list[Any] | None:
    """The options of a select: ``overwriteListEnumWith`` > ``listEnum`` > ``enum``; None when it has none."""
    x_onyxia = schema.get("x-onyxia")
    expression = x_onyxia.get("overwriteListEnumWith") if isinstance(x_onyxia, Mapping) else None
    if expression is not None:
        resolved = resolve_expression(expression, context)
        if isinstance(resolved, list):
            options: list[Any] = []
            for option in resolved:
                ok, approximation = check_value_no_options(schema, option, context)
                if ok:
                    options.append(option)
                elif approximation is not MISSING:
                    options.append(approximation)
            if options:
                return options
    for key in ("listEnum", "enum"):
        candidates = schema.get(key)
        if not isinstance(candidates, list) or not candidates:
            continue
        if all(check_value_no_options(schema, option, context)[0] for option in candidates):
            return list(candidates)
    return None


def compute_default_values(
    schema: Mapping[str, Any] | None, values_yaml: Mapping[str, Any], context: Mapping[str, Any]
) -> dict[str, Any]:
    """The default values of a launch: a new dict (nothing shared with ``schema`` or ``values_yaml``).

    Without a schema, ``values.yaml`` alone defines the values (Onyxia uses ``{type: object, properties: {}}``
    and the values.yaml defaults). ``context`` is ``LaunchContext.to_dict()`` (Onyxia key names).
    """
    if schema is None:
        copied: dict[str, Any] = json_copy(dict(values_yaml))
        return copied
    result = compute_node(schema, values_yaml, context)
    return result if isinstance(result, dict) else {}


def compute_node(  # noqa: PLR0911, PLR0912 - the cascade of sources, in Onyxia's order
    schema: Mapping[str, Any], yaml_value: Any, context: Mapping[str, Any]
) -> Any | Missing:
    """The default value of one schema node (see the module docstring for the order of the sources)."""
    if "const" in schema:
        return json_copy(schema["const"])
    kind = schema_type(schema)
    properties = schema.get("properties")
    if kind == "object" and isinstance(properties, Mapping):
        yaml_map = yaml_value if isinstance(yaml_value, Mapping) else None
        out: dict[str, Any] = {}
        for name, child in properties.items():
            if not isinstance(child, Mapping):
                continue
            child_yaml = yaml_map.get(name, MISSING) if yaml_map is not None else MISSING
            value = compute_node(child, child_yaml, context)
            if value is not MISSING:
                out[name] = value
        return out
    x_onyxia = schema.get("x-onyxia")
    expression = x_onyxia.get("overwriteDefaultWith") if isinstance(x_onyxia, Mapping) else None
    if expression is not None:
        resolved = resolve_expression(expression, context)
        if resolved is not MISSING:
            if kind == "array" and isinstance(resolved, list):
                resolved = _remap_array_items(schema, resolved, context)
            ok, approximation = check_value(schema, resolved, context)
            if ok:
                return json_copy(resolved)
            if approximation is not MISSING:
                return approximation
    if "default" in schema:
        default = schema["default"]
        if check_value(schema, default, context)[0]:
            return json_copy(default)
    if yaml_value is not MISSING:
        ok, approximation = check_value(schema, yaml_value, context)
        if ok:
            return json_copy(yaml_value)
        if approximation is not MISSING:
            return approximation
    if kind == "array":
        min_items = schema.get("minItems")
        items = schema.get("items")
        if isinstance(min_items, int) and min_items > 0 and isinstance(items, Mapping):
            item = compute_node(items, MISSING, context)
            if item is not MISSING:
                return [json_copy(item) for _ in range(min_items)]
        return []
    return MISSING


def _remap_array_items(schema: Mapping[str, Any], resolved: list[Any], context: Mapping[str, Any]) -> list[Any]:
    """Re-map each object of ``resolved`` through the item schema, whose properties default to
    ``{{<propertyName>}}`` of the item (``ai.providers[]``); unchanged when that does not apply."""
    items = schema.get("items")
    if not isinstance(items, Mapping) or schema_type(items) != "object":
        return resolved
    properties = items.get("properties")
    if not isinstance(properties, Mapping):
        return resolved
    item_schema = dict(items)
    item_properties: dict[str, Any] = {}
    for name, child in properties.items():
        if not isinstance(child, Mapping):
            item_properties[name] = child
            continue
        x_onyxia = dict(child.get("x-onyxia") or {})
        x_onyxia.setdefault("overwriteDefaultWith", "{{" + name + "}}")
        item_properties[name] = {**child, "x-onyxia": x_onyxia}
    item_schema["properties"] = item_properties
    mapped: list[Any] = []
    for element in resolved:
        if not isinstance(element, dict):
            return resolved
        # the item's own keys shadow the context's (Onyxia's Proxy over the context)
        value = compute_node(item_schema, MISSING, {**context, **element})
        mapped.append(value)
    return mapped


def merge_chart_defaults(chart_values: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """What Helm renders with: ``values.yaml`` deep-merged under ``values`` (maps merge, anything else
    replaces; a ``null`` value deletes the key, as in Helm). Onyxia's "include values.yaml defaults" mode."""
    merged: dict[str, Any] = json_copy(dict(chart_values))
    for key, value in values.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_chart_defaults(merged[key], value)
        else:
            merged[key] = json_copy(value)
    return merged
