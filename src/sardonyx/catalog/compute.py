"""The launch values pipeline: defaults from the context, the user's overrides, then JSON-schema validation.

``compute_values`` is what every face (CLI, REST, web UI, runtimes) calls through ``CatalogService``; nothing
else computes values. Validation uses the chart's resolved schema, whose validator is compiled once; every
violation is reported at once in ``InvalidValues``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jsonschema.exceptions import ValidationError

from sardonyx.catalog.context import LaunchContext
from sardonyx.catalog.jsonvalues import ValuesPath, compact_json, format_path, same
from sardonyx.catalog.model import ChartVersion
from sardonyx.catalog.overrides import Override, apply_overrides
from sardonyx.catalog.schemas import ResolvedSchema
from sardonyx.catalog.values import compute_default_values, merge_chart_defaults
from sardonyx.errors import InvalidValues, Violation


@dataclass(frozen=True)
class ComputedValues:
    """The values of one launch.

    Attributes:
        chart: the chart version launched.
        values: the final values (defaults + overrides), validated: what Helm receives with ``-f``.
        defaults: the values before the user's overrides (what the launcher's form starts from).
        schema: the resolved schema used for the form and the validation; None for a chart without schema.
        context: the context dict the expressions resolved against.
    """

    chart: ChartVersion
    values: dict[str, Any]
    defaults: dict[str, Any]
    schema: ResolvedSchema | None
    context: Mapping[str, Any]

    def changes(self) -> list[tuple[ValuesPath, Any]]:
        """The user's changes as ``(path, value)`` pairs, for ``sardonyx launch --set`` lines and launch URLs."""
        return value_changes(self.defaults, self.values)

    def helm_values(self) -> dict[str, Any]:
        """``values`` deep-merged over the chart's ``values.yaml``: what the chart templates see as ``.Values``."""
        return merge_chart_defaults(self.chart.values, self.values)


def context_dict(context: LaunchContext | Mapping[str, Any]) -> Mapping[str, Any]:
    return context.to_dict() if isinstance(context, LaunchContext) else context


def compute_values(
    chart: ChartVersion,
    schema: ResolvedSchema | None,
    context: LaunchContext | Mapping[str, Any],
    overrides: Sequence[Override] = (),
) -> ComputedValues:
    """Defaults (``values.compute_default_values``), then ``overrides`` in order, then validation.

    Raises:
        CatalogError: the chart version has problems (e.g. its schema is not valid JSON).
        InvalidValues: an override path the schema does not have, a value of the wrong type, or values that do
            not validate against the resolved schema - every violation at once, each with its path.
    """
    chart.require_usable()
    ctx = context_dict(context)
    raw_schema = schema.schema if schema is not None else None
    defaults = compute_default_values(raw_schema, chart.values, ctx)
    values, violations = apply_overrides(defaults, overrides, raw_schema)
    if schema is not None:
        violations.extend(validation_violations(values, schema))
    if violations:
        unique = sorted(set(violations), key=lambda v: (v.path, v.reason))
        count = len(unique)
        raise InvalidValues(f"{count} invalid value{'s' if count > 1 else ''} for {chart.ref}", violations=unique)
    return ComputedValues(chart=chart, values=values, defaults=defaults, schema=schema, context=ctx)


def validation_violations(values: Mapping[str, Any], schema: ResolvedSchema) -> list[Violation]:
    """Every JSON-schema violation of ``values``, with a dotted path and a sentence."""
    return [_violation(error) for error in schema.validator.iter_errors(values)]


def validate_values(values: Mapping[str, Any], schema: ResolvedSchema, *, what: str = "values") -> None:
    """Raise ``InvalidValues`` listing every violation of ``values`` against ``schema``, if any."""
    violations = validation_violations(values, schema)
    if violations:
        raise InvalidValues(f"invalid {what}", violations=sorted(set(violations), key=lambda v: (v.path, v.reason)))


def _shown(value: Any) -> str:
    text = compact_json(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _violation(error: ValidationError) -> Violation:  # noqa: PLR0911 - one sentence per keyword
    path: list[str | int] = [p for p in error.absolute_path if isinstance(p, str | int)]
    keyword = error.validator
    if keyword == "required" and isinstance(error.validator_value, list):
        missing = [
            name for name in error.validator_value if isinstance(error.instance, dict) and name not in error.instance
        ]
        if len(missing) == 1:
            return Violation(format_path([*path, missing[0]]), "a value is required")
    if keyword == "type":
        expected = error.validator_value
        expected_text = " or ".join(expected) if isinstance(expected, list) else str(expected)
        return Violation(format_path(path), f"expected {expected_text}, got {_shown(error.instance)}")
    if keyword == "enum" and isinstance(error.validator_value, list):
        options = ", ".join(_shown(o) for o in error.validator_value)
        return Violation(format_path(path), f"{_shown(error.instance)} is not one of the options: {options}")
    if keyword == "const":
        return Violation(format_path(path), f"must be {_shown(error.validator_value)}, got {_shown(error.instance)}")
    if keyword == "pattern":
        return Violation(
            format_path(path), f"{_shown(error.instance)} does not match the pattern {error.validator_value}"
        )
    if keyword == "additionalProperties" and isinstance(error.instance, dict):
        return Violation(format_path(path), error.message)
    if keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength"):
        bound = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}.get(str(keyword))
        if bound is not None:
            return Violation(
                format_path(path), f"must be {bound} {error.validator_value}, got {_shown(error.instance)}"
            )
    return Violation(format_path(path), error.message)


def value_changes(before: Any, after: Any, path: ValuesPath = ()) -> list[tuple[ValuesPath, Any]]:
    """The leaves of ``after`` that differ from ``before``: ``(path, value)`` pairs; lists compare whole."""
    if isinstance(before, dict) and isinstance(after, dict):
        changes: list[tuple[ValuesPath, Any]] = []
        for key, value in after.items():
            if key in before:
                changes.extend(value_changes(before[key], value, (*path, key)))
            else:
                changes.append(((*path, key), value))
        return changes
    if same(before, after):
        return []
    return [(path, after)]
