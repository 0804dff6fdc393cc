"""The launcher form: from the catalog engine's ``FormDescription`` to HTML inputs and back to overrides.

The web UI never computes values: it reads the form description (``CatalogService.form``), turns what the
user submitted into ``Override`` objects (one per field whose text differs from what the form showed, as
Onyxia records ``{path, value}`` patches against the defaults), and asks the catalog engine to apply and
validate them (``apply_overrides``, ``CatalogService.compute_values``). Every violation comes back with its
values path and is shown next to the field of that path.

Input names: ``f:<path>`` a field's text (``<path>`` in ``--set`` syntax), ``c:<path>`` marks a checkbox that
was on the page (an unchecked box sends nothing), ``n:<path>`` the number of items of an array group. The
``action`` button says what to do: ``launch``, ``preview`` (recompute commands), ``restore`` (defaults),
``add:<path>`` and ``remove:<path>:<index>`` (array items).
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import yaml

from sardonyx.catalog import (
    CatalogService,
    ChartVersion,
    ComputedValues,
    LaunchContext,
    Override,
    apply_overrides,
    format_path,
)
from sardonyx.catalog.form import FormDescription, FormNode, RangeEnd
from sardonyx.catalog.jsonvalues import same
from sardonyx.catalog.overrides import format_launch_url_value, parse_values_path
from sardonyx.errors import InvalidValues, Violation

FIELD = "f:"
CHECKBOX = "c:"
COUNT = "n:"
MAX_ARRAY_ITEMS = 1000
"""Refuse more array items than this from a form (a runaway ``add`` loop)."""


def number_text(value: float | int | None) -> str:
    """A number as an input shows it: ``2`` not ``2.0``, ``0.5``; empty for None."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and math.isfinite(value):
        return str(int(value))
    return str(value)


def slider_text(value: Any, unit: str | None) -> str:
    """The number part of a slider value (``"2Gi"`` with unit ``Gi`` -> ``"2"``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return ""
    if isinstance(value, int | float):
        return number_text(value)
    text = str(value)
    if unit and text.endswith(unit):
        text = text[: -len(unit)]
    return text


def yaml_text(value: Any) -> str:
    """A free object or array as YAML for the editor; empty for None."""
    if value is None:
        return ""
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, default_flow_style=False)


def field_text(  # noqa: PLR0911 - one return per widget kind
    node: FormNode, value: Any = None, *, use_node_value: bool = True
) -> str:
    """What the input of ``node`` shows for ``value`` (the node's own value by default)."""
    current = node.value if use_node_value else value
    if node.widget == "yaml":
        return yaml_text(current)
    if node.widget in ("number", "integer"):
        if isinstance(current, int | float) and not isinstance(current, bool):
            return number_text(current)
        return "" if current is None else str(current)
    if node.widget == "slider":
        return slider_text(current, node.slider.unit if node.slider else None)
    if current is None:
        return ""
    if isinstance(current, str):
        return current
    return (
        yaml.safe_dump(current, default_flow_style=True).strip()
        if isinstance(current, dict | list)
        else ("true" if current is True else "false" if current is False else str(current))
    )


@dataclass
class LauncherState:
    """One rendering of the launcher: the form, what the user typed, the violations, the computed values.

    Attributes:
        form: the form for the current values.
        raw: field path -> the text the user submitted (shown back as typed, even when invalid).
        violations: path -> reasons (the empty path holds document-level problems).
        computed: the validated values, None while there are violations.
        overrides: the user's changes against the defaults (the launch request).
    """

    chart: ChartVersion
    form: FormDescription
    raw: dict[str, str] = field(default_factory=dict)
    violations: dict[str, list[str]] = field(default_factory=dict)
    computed: ComputedValues | None = None
    overrides: list[Override] = field(default_factory=list)
    friendly_name: str = ""
    subdomain: str = ""

    @property
    def valid(self) -> bool:
        return self.computed is not None and not self.violations

    @property
    def violation_count(self) -> int:
        return sum(len(reasons) for reasons in self.violations.values())

    def text(self, node: FormNode) -> str:
        """The text an input shows: what the user typed, else the node's current value."""
        if node.path_text in self.raw:
            return self.raw[node.path_text]
        return field_text(node)

    def end_text(self, end: RangeEnd, unit: str | None) -> str:
        """The text of one end of a range slider: as typed, else the number part of its value."""
        if end.path_text in self.raw:
            return self.raw[end.path_text]
        return slider_text(end.raw_value, unit)

    def errors(self, path_text: str) -> list[str]:
        return self.violations.get(path_text, [])

    def orphan_violations(self) -> list[tuple[str, str]]:
        """Violations whose path has no field on the form (shown in the summary only)."""
        known = {n.path_text for n in self.form.nodes()}
        for node in self.form.nodes():
            if node.range is not None:
                known.update({node.range.low.path_text, node.range.high.path_text})
        return [(path, reason) for path, reasons in self.violations.items() if path not in known for reason in reasons]

    def all_violations(self) -> list[tuple[str, str]]:
        return [(path, reason) for path, reasons in sorted(self.violations.items()) for reason in reasons]


def _rename_indexed(form: Mapping[str, str], prefix: str, removed: int) -> dict[str, str]:
    """Form data after removing item ``removed`` of the array at ``prefix``: the item's inputs go, later items'
    inputs move one index down (``a[2].x`` -> ``a[1].x``)."""
    pattern = re.compile(rf"^([fcn]:){re.escape(prefix)}\[(\d+)\](.*)$")
    result: dict[str, str] = {}
    for key, value in form.items():
        match = pattern.match(key)
        if match is None:
            result[key] = value
            continue
        index = int(match.group(2))
        if index == removed:
            continue
        new_index = index - 1 if index > removed else index
        result[f"{match.group(1)}{prefix}[{new_index}]{match.group(3)}"] = value
    count_key = f"{COUNT}{prefix}"
    if count_key in result and result[count_key].isdigit():
        result[count_key] = str(max(0, int(result[count_key]) - 1))
    return result


def apply_action(form: Mapping[str, str], action: str) -> dict[str, str]:
    """Form data with an ``add:<path>`` or ``remove:<path>:<index>`` action applied to the array counts."""
    data = dict(form)
    if action.startswith("add:"):
        key = f"{COUNT}{action[4:]}"
        current = data.get(key, "0")
        data[key] = str(min(MAX_ARRAY_ITEMS, (int(current) if current.isdigit() else 0) + 1))
    elif action.startswith("remove:"):
        prefix, _, index = action[7:].rpartition(":")
        if index.isdigit():
            data = _rename_indexed(data, prefix, int(index))
    return data


def _resize_overrides(form: FormDescription, data: Mapping[str, str]) -> list[Override]:
    """Array groups whose submitted item count differs from the form's: the list cut, or extended with the
    schema's item default (``FormNode.item_default``)."""
    overrides: list[Override] = []
    for node in form.nodes():
        if node.widget != "array" or node.readonly:
            continue
        raw = data.get(f"{COUNT}{node.path_text}")
        if raw is None or not raw.isdigit():
            continue
        wanted = min(int(raw), MAX_ARRAY_ITEMS)
        current = list(node.value) if isinstance(node.value, list) else []
        if wanted == len(current):
            continue
        if wanted < len(current):
            resized = copy.deepcopy(current[:wanted])
        else:
            # one copy per new item: items must never share objects
            resized = copy.deepcopy(current) + [copy.deepcopy(node.item_default) for _ in range(wanted - len(current))]
        overrides.append(Override.typed(tuple(node.path), resized))
    return overrides


def _field_overrides(  # noqa: PLR0912, PLR0915 - one branch per widget kind
    form: FormDescription, data: Mapping[str, str], problems: list[Violation]
) -> tuple[list[Override], dict[str, str]]:
    """An override for every field whose submitted text differs from what ``form`` shows; the submitted texts."""
    overrides: list[Override] = []
    raw: dict[str, str] = {}
    for node in form.nodes():
        if node.kind != "field" or node.readonly:
            continue
        if node.widget == "rangeSlider" and node.range is not None:
            for end in (node.range.low, node.range.high):
                text = data.get(f"{FIELD}{end.path_text}")
                if text is None or end.readonly:
                    continue
                raw[end.path_text] = text
                if text.strip() != slider_text(end.raw_value, node.range.unit):
                    unit = node.range.unit or ""
                    overrides.append(
                        Override.from_text(tuple(end.path), f"{text.strip()}{unit}" if unit else text.strip())
                    )
            continue
        if node.widget == "checkbox":
            if f"{CHECKBOX}{node.path_text}" not in data:
                continue
            checked = f"{FIELD}{node.path_text}" in data
            if node.value is not checked:
                overrides.append(Override.typed(tuple(node.path), checked))
            continue
        text = data.get(f"{FIELD}{node.path_text}")
        if text is None:
            continue
        if node.widget == "select":
            options = node.options or []
            if not text.isdigit() or int(text) >= len(options):
                problems.append(Violation(node.path_text, "choose one of the options"))
                continue
            option = options[int(text)]
            if node.value is None or not same(option, node.value):
                overrides.append(Override.typed(tuple(node.path), option))
            continue
        raw[node.path_text] = text
        if text == field_text(node) or (node.widget != "yaml" and text.strip() == field_text(node).strip()):
            continue
        if node.widget == "yaml":
            try:
                parsed = yaml.safe_load(text) if text.strip() else None
            except yaml.YAMLError as error:
                mark = getattr(error, "problem_mark", None)
                where = f" (line {mark.line + 1})" if mark is not None else ""
                problems.append(Violation(node.path_text, f"this is not valid YAML{where}"))
                continue
            overrides.append(Override.typed(tuple(node.path), parsed))
        elif node.widget == "slider":
            slider_unit = node.slider.unit if node.slider else None
            value_text = text.strip()
            overrides.append(
                Override.from_text(
                    tuple(node.path), f"{value_text}{slider_unit}" if slider_unit and value_text else value_text
                )
            )
        elif node.widget in ("number", "integer"):
            overrides.append(Override.from_text(tuple(node.path), text.strip()))
        else:
            overrides.append(Override.from_text(tuple(node.path), text))
    return overrides, raw


def _group(violations: Iterable[Violation]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for violation in violations:
        reasons = grouped.setdefault(violation.path, [])
        if violation.reason not in reasons:
            reasons.append(violation.reason)
    return grouped


def launcher_state(
    catalogs: CatalogService,
    chart: ChartVersion,
    context: LaunchContext,
    *,
    submitted: Mapping[str, str] | None = None,
    extra_overrides: Sequence[Override] = (),
    extra_violations: Sequence[Violation] = (),
    roles: Sequence[str] = (),
) -> LauncherState:
    """The launcher for ``chart``: defaults, then ``extra_overrides`` (from a launch URL), then the fields of
    ``submitted`` (form data, actions already applied) that differ from what was shown; validated.

    Raises:
        CatalogError: the chart version cannot be used.
    """
    schema = catalogs.resolved_schema(chart, roles)
    raw_schema = schema.schema if schema is not None else None
    defaults = _defaults(catalogs, chart, context, roles)
    problems: list[Violation] = list(extra_violations)
    overrides: list[Override] = list(extra_overrides)
    raw: dict[str, str] = {}
    base_values, _ = apply_overrides(defaults, overrides, raw_schema)
    if submitted is not None:
        # arrays first (their size decides which item fields exist), a few rounds for nested arrays
        for _ in range(4):
            base_form = catalogs.form(chart, context, values=base_values, roles=roles)
            resizes = _resize_overrides(base_form, submitted)
            if not resizes:
                break
            overrides.extend(resizes)
            base_values, _ = apply_overrides(defaults, overrides, raw_schema)
        base_form = catalogs.form(chart, context, values=base_values, roles=roles)
        field_overrides, raw = _field_overrides(base_form, submitted, problems)
        overrides.extend(field_overrides)
    values, override_problems = apply_overrides(defaults, overrides, raw_schema)
    computed: ComputedValues | None = None
    try:
        computed = catalogs.compute_values(chart, context, overrides, roles=roles)
    except InvalidValues as error:
        problems.extend(error.violations)
    else:
        problems.extend(override_problems)
    form = catalogs.form(chart, context, values=values, roles=roles)
    state = LauncherState(chart=chart, form=form, raw=raw, violations=_group(problems), overrides=overrides)
    if not state.violations:
        state.computed = computed
    return state


def _defaults(
    catalogs: CatalogService, chart: ChartVersion, context: LaunchContext, roles: Sequence[str]
) -> dict[str, Any]:
    """The computed defaults, by the catalog engine (what ``CatalogService.form`` shows before any change)."""
    from sardonyx.catalog.compute import context_dict
    from sardonyx.catalog.values import compute_default_values

    schema = catalogs.resolved_schema(chart, roles)
    return compute_default_values(schema.schema if schema is not None else None, chart.values, context_dict(context))


def changes_of(state: LauncherState) -> list[tuple[tuple[str | int, ...], Any]]:
    """The user's changes against the defaults (empty while invalid)."""
    return state.computed.changes() if state.computed is not None else []


def launch_url(
    catalog_id: str,
    chart: str,
    changes: Sequence[tuple[Sequence[str | int], Any]],
    *,
    friendly_name: str | None = None,
    version: str | None = None,
    auto_launch: bool = False,
) -> str:
    """The shareable launch URL in Onyxia's syntax (ONYXIA-REFERENCE 4.2): ``/launcher/<catalog>/<chart>?name=
    ..&version=..&autoLaunch=true&a.b=«text»&n=42``; string values in guillemets, percent-encoded."""
    parts: list[str] = []
    if friendly_name:
        parts.append(f"name={quote(friendly_name, safe='')}")
    if version:
        parts.append(f"version={quote(version, safe='')}")
    if auto_launch:
        parts.append("autoLaunch=true")
    for path, value in changes:
        key = format_path(tuple(path))
        parts.append(f"{quote(key, safe='.[]')}={quote(format_launch_url_value(value), safe='')}")
    query = "&".join(parts)
    base = f"/launcher/{quote(catalog_id, safe='')}/{quote(chart, safe='')}"
    return f"{base}?{query}" if query else base


def path_of(text: str) -> tuple[str | int, ...]:
    """A values path from ``--set`` syntax. Raises ``ValueError``."""
    return parse_values_path(text)
