"""The launcher form, described for the web UI and ``sardonyx catalog show``: a tree of field descriptors.

Built like Onyxia's launcher (``computeRootForm/*``, ONYXIA-REFERENCE 3.3 and 3.6) by walking the resolved schema
together with the current values:

- an object without ``properties`` or an array without ``items`` is a YAML block (``yaml``);
- a node with options (``overwriteListEnumWith`` > ``listEnum`` > ``enum``) is a ``select``;
- ``sliderMin`` makes a ``slider``; two fields with the same ``sliderRangeId`` and ``sliderExtremity``
  ``down``/``up`` are merged into one ``rangeSlider``, placed in their deepest common group;
- booleans are checkboxes, strings text fields (``render: textArea`` / ``password``), integers and numbers
  number fields; objects are groups (sections), arrays with items are ``array`` groups whose children are the
  current items (add/remove within ``minItems``/``maxItems``);
- the title is ``title``, else the property name (``<name> <index>`` for list items); a field is read-only when
  ``x-onyxia.readonly`` is true or it has a ``const``;
- the top-level ``global`` group is its own section; each enabled dependency chart (``Chart.yaml``
  ``dependencies`` whose ``condition`` is true or absent) gets its own section.

Unlike Onyxia, hidden fields are kept: ``hidden`` is the declared rule (``true``, or a condition ``{value, path,
isPathRelative}`` with its absolute ``target`` path, so a page can re-evaluate it as values change) and
``hidden_now`` its value for the current values; ``visible()`` drops what is hidden now.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sardonyx.catalog.expressions import mentions_root_key
from sardonyx.catalog.jsonvalues import MISSING, ValuesPath, format_path, json_type_of, same
from sardonyx.catalog.model import ChartVersion
from sardonyx.catalog.values import compute_node, parse_float_prefix, resolve_options, schema_type

WidgetKind = Literal[
    "text",
    "textArea",
    "password",
    "number",
    "integer",
    "checkbox",
    "select",
    "slider",
    "rangeSlider",
    "yaml",
    "group",
    "array",
]


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class HiddenCondition(_Model):
    """Hide the field when the value at ``target`` deep-equals ``value``.

    ``path`` is the schema's slash-separated path, relative to the field's parent when ``is_path_relative``;
    ``target`` is the resolved absolute values path.
    """

    value: Any
    path: str
    is_path_relative: bool = False
    target: list[str | int]

    def holds(self, values: Mapping[str, Any]) -> bool:
        """True when the field is hidden for ``values``."""
        current = _lookup(values, self.target)
        return current is not MISSING and same(self.value, current)


class SliderSpec(_Model):
    """A slider's bounds; ``unit`` is appended to the number in the value (``"2Gi"``), None for plain numbers."""

    min: float
    max: float
    step: float | None = None
    unit: str | None = None


class RangeEnd(_Model):
    """One end of a range slider: its own values path, current number, bounds and label (``guaranteed``)."""

    path: list[str | int]
    path_text: str
    title: str
    description: str | None = None
    value: float | None
    raw_value: Any = None
    semantic: str | None = None
    min: float
    max: float
    readonly: bool = False
    hidden_now: bool = False


class RangeSliderSpec(_Model):
    """Two fields (``sliderExtremity`` down/up) sharing a ``sliderRangeId``, shown as one widget."""

    range_id: str
    unit: str | None = None
    step: float | None = None
    low: RangeEnd
    high: RangeEnd


class FormNode(_Model):
    """One field or group of the form.

    Attributes:
        kind: ``field`` or ``group``.
        path / path_text: values path, as a list and in ``--set`` syntax (``resources.limits.cpu``); a range
            slider takes its low end's path (both ends, with their own paths, are in ``range``).
        name: last path segment; title: what to show; description: help text (Markdown in Onyxia).
        type: the schema type; widget: how to render it.
        value: the current value (None when unset); default: the computed default (before the user's changes).
        required, readonly: from ``required`` of the parent, and ``x-onyxia.readonly`` or ``const``.
        hidden: the declared rule (False when none); hidden_now: whether it hides the field now.
        options / selected_index: a select's options and the index of the current value (None if not among).
        pattern, minimum, maximum, min_items, max_items: constraints to show or check client-side.
        slider / range: slider settings; children: a group's nodes; can_add / can_remove / item_default: for
        ``array`` groups, whether items may be added or removed and the value of a new item.
    """

    kind: Literal["field", "group"]
    path: list[str | int]
    path_text: str
    name: str
    title: str
    description: str | None = None
    type: str | None = None
    widget: WidgetKind
    value: Any = None
    default: Any = None
    required: bool = False
    readonly: bool = False
    hidden: bool | HiddenCondition = False
    hidden_now: bool = False
    options: list[Any] | None = None
    selected_index: int | None = None
    pattern: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    min_items: int | None = None
    max_items: int | None = None
    slider: SliderSpec | None = None
    range: RangeSliderSpec | None = None
    children: list[FormNode] = Field(default_factory=list)
    can_add: bool = False
    can_remove: bool = False
    item_default: Any = None

    def walk(self) -> Iterator[FormNode]:
        """This node and every descendant, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()


class DependencySection(_Model):
    main: list[FormNode] = Field(default_factory=list)
    global_: list[FormNode] = Field(default_factory=list, serialization_alias="global")


class FormDescription(_Model):
    """The whole launcher form of one chart version.

    Attributes:
        chart, version: what it describes.
        main: the main section's nodes (top-level groups are sections).
        global_: the ``global`` section (JSON key ``global``).
        dependencies: one section per enabled dependency chart with values.
        disabled_dependencies: dependency charts whose ``condition`` is false.
        uses_s3: the chart's expressions read ``s3.*`` (the launcher then offers an S3-profile choice).
    """

    chart: str
    version: str
    main: list[FormNode] = Field(default_factory=list)
    global_: list[FormNode] = Field(default_factory=list, serialization_alias="global")
    dependencies: dict[str, DependencySection] = Field(default_factory=dict)
    disabled_dependencies: list[str] = Field(default_factory=list)
    uses_s3: bool = False

    def sections(self) -> list[tuple[str, list[FormNode]]]:
        """``(name, nodes)`` for main, global and each dependency (``<dep>`` and ``<dep> (global)``)."""
        sections = [("main", self.main), ("global", self.global_)]
        for name, dependency in self.dependencies.items():
            sections.append((name, dependency.main))
            sections.append((f"{name} (global)", dependency.global_))
        return [(name, nodes) for name, nodes in sections if nodes]

    def nodes(self) -> Iterator[FormNode]:
        """Every node of every section, depth first."""
        for _, nodes in self.sections():
            for node in nodes:
                yield from node.walk()

    def fields(self) -> list[FormNode]:
        """Every field (not groups), depth first."""
        return [node for node in self.nodes() if node.kind == "field"]

    def field(self, path_text: str) -> FormNode:
        """The node at ``path_text`` (``--set`` syntax). Raises KeyError."""
        for node in self.nodes():
            if node.path_text == path_text:
                return node
        raise KeyError(path_text)

    def visible(self) -> FormDescription:
        """A copy without the nodes hidden now (what Onyxia's form shows)."""

        def keep(nodes: list[FormNode]) -> list[FormNode]:
            return [n.model_copy(update={"children": keep(n.children)}) for n in nodes if not n.hidden_now]

        return self.model_copy(
            update={
                "main": keep(self.main),
                "global_": keep(self.global_),
                "dependencies": {
                    k: DependencySection(main=keep(d.main), global_=keep(d.global_))
                    for k, d in self.dependencies.items()
                },
            }
        )


def _lookup(values: Any, path: Sequence[str | int]) -> Any:
    current = values
    for part in path:
        if isinstance(current, Mapping):
            if not isinstance(part, str) or part not in current:
                return MISSING
            current = current[part]
            continue
        index = part if isinstance(part, int) else int(part) if part.isdigit() else -1
        if not isinstance(current, list) or not 0 <= index < len(current):
            return MISSING
        current = current[index]
    return current


def _hidden_rule(schema: Mapping[str, Any], path: ValuesPath) -> bool | HiddenCondition:
    x_onyxia = schema.get("x-onyxia")
    declared = schema.get("hidden")
    if declared is None and isinstance(x_onyxia, Mapping):
        declared = x_onyxia.get("hidden")
    if declared is True:
        return True
    if isinstance(declared, Mapping) and isinstance(declared.get("path"), str):
        relative = bool(declared.get("isPathRelative", False))
        segments: list[str | int] = list(str(declared["path"]).split("/"))
        target = [*path[:-1], *segments] if relative else segments
        return HiddenCondition(
            value=declared.get("value"), path=str(declared["path"]), is_path_relative=relative, target=target
        )
    # a node hidden by both spellings: x-onyxia.hidden = true wins over a false top-level hidden
    return isinstance(x_onyxia, Mapping) and x_onyxia.get("hidden") is True


def _title(schema: Mapping[str, Any], path: ValuesPath) -> str:
    last = path[-1] if path else ""
    title = schema.get("title")
    if not isinstance(title, str) or not title:
        title = str(path[-2]) if isinstance(last, int) and len(path) > 1 else str(last)
    if isinstance(last, int):
        title = f"{title} {last}"
    return title


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _slider_number(value: Any, unit: str | None) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        text = value[: len(value) - len(unit)] if unit and value.endswith(unit) else value
        return parse_float_prefix(text)
    return None


class _Builder:
    def __init__(self, values: Mapping[str, Any], defaults: Mapping[str, Any], context: Mapping[str, Any]) -> None:
        self.values = values
        self.defaults = defaults
        self.context = context
        self.uses_s3 = False
        # slider fields that are one end of a range: (node, sliderRangeId, "down"|"up", sliderExtremitySemantic)
        self.range_ends: list[tuple[FormNode, str, str, str | None]] = []

    def node(  # noqa: PLR0911 - one return per kind of widget, in Onyxia's order
        self, schema: Mapping[str, Any], path: ValuesPath, *, required: bool
    ) -> FormNode | None:
        x_onyxia = schema.get("x-onyxia")
        if isinstance(x_onyxia, Mapping):
            for key in ("overwriteDefaultWith", "overwriteListEnumWith"):
                if key in x_onyxia and mentions_root_key(x_onyxia[key], "s3"):
                    self.uses_s3 = True
        kind = schema_type(schema)
        value = _lookup(self.values, path)
        default = _lookup(self.defaults, path)
        hidden = _hidden_rule(schema, path)
        hidden_now = hidden is True or (isinstance(hidden, HiddenCondition) and hidden.holds(self.values))
        readonly = "const" in schema or (isinstance(x_onyxia, Mapping) and x_onyxia.get("readonly") is True)
        description = schema.get("description") if isinstance(schema.get("description"), str) else None
        pattern = schema.get("pattern") if isinstance(schema.get("pattern"), str) else None
        common: dict[str, Any] = {
            "path": list(path),
            "path_text": format_path(path),
            "name": str(path[-1]) if path else "",
            "title": _title(schema, path),
            "description": description,
            "type": kind,
            "value": None if value is MISSING else value,
            "default": None if default is MISSING else default,
            "required": required,
            "readonly": readonly,
            "hidden": hidden,
            "hidden_now": hidden_now,
            "pattern": pattern,
            "minimum": _number(schema.get("minimum")),
            "maximum": _number(schema.get("maximum")),
            "min_items": schema.get("minItems") if isinstance(schema.get("minItems"), int) else None,
            "max_items": schema.get("maxItems") if isinstance(schema.get("maxItems"), int) else None,
        }
        properties = schema.get("properties")
        items = schema.get("items")
        if (
            kind is None
            or (kind == "object" and not isinstance(properties, Mapping))
            or (kind == "array" and not isinstance(items, Mapping))
        ):
            if kind is None and value is not MISSING and not isinstance(value, dict | list):
                return self._scalar_field(schema, json_type_of(value), common)
            return FormNode(kind="field", widget="yaml", **common)
        options = resolve_options(schema, self.context)
        if options is not None and kind not in ("object", "array"):
            index = next((i for i, o in enumerate(options) if value is not MISSING and same(o, value)), None)
            return FormNode(kind="field", widget="select", options=options, selected_index=index, **common)
        slider = self._slider(schema)
        if slider is not None and kind in ("string", "number", "integer"):
            node = FormNode(kind="field", widget="slider", slider=slider, **common)
            range_id, extremity = schema.get("sliderRangeId"), schema.get("sliderExtremity")
            if isinstance(range_id, str) and extremity in ("down", "up"):
                semantic = schema.get("sliderExtremitySemantic")
                self.range_ends.append(
                    (node, range_id, str(extremity), semantic if isinstance(semantic, str) else None)
                )
            return node
        if kind == "object" and isinstance(properties, Mapping):
            required_names = set(schema.get("required") or []) if isinstance(schema.get("required"), list) else set()
            children = [
                child
                for name, child_schema in properties.items()
                if isinstance(child_schema, Mapping)
                and (child := self.node(child_schema, (*path, name), required=name in required_names)) is not None
            ]
            return FormNode(kind="group", widget="group", children=children, **common)
        if kind == "array" and isinstance(items, Mapping):
            current = value if isinstance(value, list) else []
            children = [
                child
                for index in range(len(current))
                if (child := self.node(items, (*path, index), required=False)) is not None
            ]
            item_default = compute_node(items, MISSING, self.context)
            max_items, min_items = common["max_items"], common["min_items"]
            return FormNode(
                kind="group",
                widget="array",
                children=children,
                can_add=max_items is None or len(current) < max_items,
                can_remove=len(current) > (min_items or 0),
                item_default=None if item_default is MISSING else item_default,
                **common,
            )
        return self._scalar_field(schema, kind, common)

    def _scalar_field(self, schema: Mapping[str, Any], kind: str, common: dict[str, Any]) -> FormNode:
        widget: WidgetKind
        if kind == "boolean":
            widget = "checkbox"
        elif kind == "integer":
            widget = "integer"
        elif kind == "number":
            widget = "number"
        elif kind == "string":
            render = schema.get("render")
            widget = "textArea" if render == "textArea" else "password" if render == "password" else "text"
        else:
            widget = "yaml"
        return FormNode(kind="field", widget=widget, **common)

    @staticmethod
    def _slider(schema: Mapping[str, Any]) -> SliderSpec | None:
        low, high = _number(schema.get("sliderMin")), _number(schema.get("sliderMax"))
        if low is None or high is None:
            return None
        unit = schema.get("sliderUnit")
        return SliderSpec(
            min=low, max=high, step=_number(schema.get("sliderStep")), unit=unit if isinstance(unit, str) else None
        )


def _merge_range_sliders(root: FormNode, ends: list[tuple[FormNode, str, str, str | None]]) -> None:
    """Pair slider fields by ``sliderRangeId`` (down with up, in order) into range sliders; an end without
    its pair stays a simple slider (``mergeRangeSliders``)."""
    by_id: dict[str, dict[str, list[tuple[FormNode, str | None]]]] = {}
    for node, range_id, extremity, semantic in ends:
        by_id.setdefault(range_id, {"down": [], "up": []})[extremity].append((node, semantic))
    for range_id, pairs in by_id.items():
        for low, high in zip(pairs["down"], pairs["up"], strict=False):
            _insert_range(root, range_id, low, high)


def _range_end(node: FormNode, slider: SliderSpec, semantic: str | None) -> RangeEnd:
    return RangeEnd(
        path=node.path,
        path_text=node.path_text,
        title=node.title,
        description=node.description,
        value=_slider_number(node.value, slider.unit),
        raw_value=node.value,
        semantic=semantic,
        min=slider.min,
        max=slider.max,
        readonly=node.readonly,
        hidden_now=node.hidden_now,
    )


def _insert_range(
    root: FormNode, range_id: str, low_end: tuple[FormNode, str | None], high_end: tuple[FormNode, str | None]
) -> None:
    low, high = low_end[0], high_end[0]
    common: list[str | int] = []
    for a, b in zip(low.path[:-1], high.path[:-1], strict=False):
        if a != b:
            break
        common.append(a)
    group = next((n for n in root.walk() if n.kind == "group" and n.path == common), root)
    if low.slider is None or high.slider is None:
        return
    merged = FormNode(
        kind="field",
        path=list(low.path),
        path_text=low.path_text,
        name=range_id,
        title=low.title,
        description=low.description,
        type=low.type,
        widget="rangeSlider",
        value=[low.value, high.value],
        default=[low.default, high.default],
        readonly=low.readonly and high.readonly,
        hidden_now=low.hidden_now or high.hidden_now,
        range=RangeSliderSpec(
            range_id=range_id,
            unit=low.slider.unit if low.slider.unit is not None else high.slider.unit,
            step=low.slider.step if low.slider.step is not None else high.slider.step,
            low=_range_end(low, low.slider, low_end[1]),
            high=_range_end(high, high.slider, high_end[1]),
        ),
    )
    # place it where the low end's branch starts in the common group, then drop both ends
    branch = low.path[len(common)] if len(low.path) > len(common) else None
    position = next(
        (
            i
            for i, child in enumerate(group.children)
            if child.widget != "rangeSlider" and child.path[len(common) : len(common) + 1] == [branch]
        ),
        len(group.children),
    )
    group.children.insert(position, merged)
    _remove_nodes(root, {id(low), id(high)})


def _remove_nodes(group: FormNode, targets: set[int]) -> bool:
    """Remove ``targets`` below ``group``; groups left empty by the removal go too. True if something went."""
    removed = False
    kept: list[FormNode] = []
    for child in group.children:
        if id(child) in targets:
            removed = True
            continue
        if child.kind == "group" and child.children and _remove_nodes(child, targets):
            removed = True
            if not child.children and child.widget == "group":
                continue
        kept.append(child)
    group.children[:] = kept
    return removed


def build_form(
    chart: ChartVersion,
    schema: Mapping[str, Any] | None,
    values: Mapping[str, Any],
    *,
    defaults: Mapping[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
) -> FormDescription:
    """The form of ``chart`` for the resolved ``schema`` and the current ``values``.

    ``defaults`` are the computed defaults (``ComputedValues.defaults``; default: ``values``), ``context`` the
    launch context dict (for ``overwriteListEnumWith`` options). A chart without schema gets one field per
    top-level key of its values (YAML blocks for objects and lists).
    """
    ctx = context or {}
    builder = _Builder(values, defaults if defaults is not None else values, ctx)
    if schema is None:
        synthesized: dict[str, Any] = {"type": "object", "properties": {key: {} for key in values}}
        schema = synthesized
    root = builder.node(schema, (), required=False)
    if root is None or root.kind != "group":
        return FormDescription(chart=chart.name, version=chart.version)
    _merge_range_sliders(root, builder.range_ends)
    main = list(root.children)
    global_nodes = _extract(main, "global")
    dependencies: dict[str, DependencySection] = {}
    disabled: list[str] = []
    for dependency in chart.dependencies:
        if dependency.condition is not None and _lookup(values, list(dependency.condition)) is not True:
            disabled.append(dependency.name)
            continue
        dep_main = _extract(main, dependency.values_key)
        dep_global = _extract(global_nodes, dependency.values_key)
        if dep_main or dep_global:
            dependencies[dependency.name] = DependencySection(main=dep_main, global_=dep_global)
    return FormDescription(
        chart=chart.name,
        version=chart.version,
        main=main,
        global_=global_nodes,
        dependencies=dependencies,
        disabled_dependencies=disabled,
        uses_s3=builder.uses_s3,
    )


def _extract(nodes: list[FormNode], name: str) -> list[FormNode]:
    for index, node in enumerate(nodes):
        if node.kind == "group" and node.name == name and node.widget == "group":
            del nodes[index]
            return node.children
    return []
