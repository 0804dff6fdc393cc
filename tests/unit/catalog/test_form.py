"""The launcher form description: widgets, range sliders, hidden rules, sections, on real and small charts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sardonyx.catalog import LaunchContext, ResolvedSchema, SchemaRegistry, compute_values, resolve_schema
from sardonyx.catalog.form import FormDescription, HiddenCondition, build_form
from sardonyx.catalog.model import ChartVersion
from sardonyx.catalog.overrides import Override

Reader = Callable[[str], ChartVersion]


def fixture_form(
    read: Reader, registry: SchemaRegistry, name: str, context: LaunchContext, overrides: list[Override] | None = None
) -> FormDescription:
    chart = read(name)
    assert chart.schema is not None
    schema = ResolvedSchema.build(resolve_schema(chart.schema, registry), source=name)
    computed = compute_values(chart, schema, context, overrides or [])
    return build_form(chart, schema.schema, computed.values, defaults=computed.defaults, context=computed.context)


def test_jupyter_form_widgets(fixture_chart: Reader, registry: SchemaRegistry, context: LaunchContext) -> None:
    form = fixture_form(fixture_chart, registry, "jupyter-python", context)
    version = form.field("service.image.version")
    assert version.widget == "select"
    assert version.options == [
        "inseefrlab/onyxia-jupyter-python:py3.13.13",
        "inseefrlab/onyxia-jupyter-python:py3.12.13",
    ]
    assert version.selected_index == 0
    assert version.title == "Name of the service's Docker image"
    assert form.field("service.image.custom.enabled").widget == "checkbox"
    assert form.field("security.password").widget == "password"
    assert form.field("security.password").value == "onetimepw"
    assert form.field("networking.user.port").widget == "integer"
    assert form.field("init.personalInit").widget == "text"
    assert form.field("init.personalInit").title == "personalInit"
    size = form.field("persistence.size")
    assert size.widget == "slider" and size.slider is not None
    assert (size.slider.min, size.slider.max, size.slider.step, size.slider.unit) == (1, 100, 1, "Gi")
    assert form.field("nodeSelector").widget == "yaml"
    env = form.field("extraEnvVars")
    assert env.widget == "array" and env.can_add and not env.can_remove
    assert env.item_default == {"name": "CHANGE_ME", "value": ""}
    assert form.field("service").kind == "group"
    assert form.uses_s3


def test_range_sliders_merged_in_their_common_group(
    fixture_chart: Reader, registry: SchemaRegistry, context: LaunchContext
) -> None:
    form = fixture_form(fixture_chart, registry, "jupyter-python", context)
    resources = form.field("resources")
    assert [c.widget for c in resources.children] == ["rangeSlider", "rangeSlider"]
    cpu = resources.children[0].range
    assert cpu is not None and cpu.range_id == "cpu"
    assert (cpu.unit, cpu.step) == ("m", 50)
    assert (cpu.low.path_text, cpu.low.value, cpu.low.semantic) == ("resources.requests.cpu", 100, "guaranteed")
    assert (cpu.high.path_text, cpu.high.value, cpu.high.semantic) == ("resources.limits.cpu", 30000, "Maximum")
    assert (cpu.low.min, cpu.low.max) == (50, 40000)
    memory = resources.children[1].range
    assert memory is not None and (memory.low.value, memory.high.value, memory.unit) == (2, 50, "Gi")
    assert resources.children[0].title == "CPU"


def test_hidden_rules(fixture_chart: Reader, registry: SchemaRegistry, context: LaunchContext) -> None:
    form = fixture_form(fixture_chart, registry, "jupyter-python", context)
    custom = form.field("service.image.custom.version")
    assert isinstance(custom.hidden, HiddenCondition)
    assert custom.hidden.is_path_relative and custom.hidden.target == ["service", "image", "custom", "enabled"]
    assert custom.hidden_now
    version = form.field("service.image.version")
    assert isinstance(version.hidden, HiddenCondition) and not version.hidden.is_path_relative
    assert not version.hidden_now
    assert form.field("ingress.hostname").hidden is True
    assert form.field("ingress.hostname").hidden_now
    assert not form.field("s3.accessKeyId").hidden_now
    # after switching the custom image on, the rules flip
    switched = fixture_form(
        fixture_chart, registry, "jupyter-python", context, [Override.from_text("service.image.custom.enabled", "true")]
    )
    assert not switched.field("service.image.custom.version").hidden_now
    assert switched.field("service.image.version").hidden_now
    assert isinstance(version.hidden, HiddenCondition) and version.hidden.holds(
        {"service": {"image": {"custom": {"enabled": True}}}}
    )
    visible = form.visible()
    paths = {n.path_text for n in visible.nodes()}
    assert "ingress" not in {p.split(".")[0] for p in paths if p.startswith("ingress.")}
    assert "service.image.custom.version" not in paths and "service.image.version" in paths


def test_global_and_dependency_sections(
    fixture_chart: Reader, registry: SchemaRegistry, context: LaunchContext
) -> None:
    jupyter = fixture_form(fixture_chart, registry, "jupyter-python", context)
    assert [n.path_text for n in jupyter.global_] == ["global.suspend"]
    assert all(n.name != "global" for n in jupyter.main)
    mlflow = fixture_form(fixture_chart, registry, "mlflow", context)
    assert list(mlflow.dependencies) == ["postgresql"]
    assert [n.path_text for n in mlflow.dependencies["postgresql"].main] == ["postgresql.image", "postgresql.auth"]
    assert all(n.name != "postgresql" for n in mlflow.main)
    assert [name for name, _ in mlflow.sections()] == ["main", "postgresql"]
    dumped = mlflow.model_dump(by_alias=True)
    assert "global" in dumped and "global" in dumped["dependencies"]["postgresql"]


def small_chart(
    schema: dict[str, Any] | None, values: dict[str, Any], deps: list[dict[str, Any]] | None = None
) -> ChartVersion:
    meta: dict[str, Any] = {"name": "small", "version": "1.0.0", "dependencies": deps or []}
    return ChartVersion(catalog_id="t", name="small", version="1.0.0", metadata=meta, schema=schema, values=values)


def test_disabled_dependency_and_readonly_const() -> None:
    schema = {
        "type": "object",
        "properties": {
            "db": {"type": "object", "properties": {"enabled": {"type": "boolean", "default": False}}},
            "mode": {"type": "string", "const": "fixed"},
            "locked": {"type": "string", "default": "x", "x-onyxia": {"readonly": True}},
            "notes": {"type": "string", "default": "", "render": "textArea"},
            "ratio": {"type": "number", "default": 0.5, "minimum": 0, "maximum": 1},
            "items": {"type": "array", "minItems": 1, "maxItems": 1, "items": {"type": "string", "default": "a"}},
        },
        "required": ["mode"],
    }
    chart = small_chart(schema, {}, [{"name": "postgresql", "alias": "db", "condition": "db.enabled"}])
    values = {"db": {"enabled": False}, "mode": "fixed", "locked": "x", "notes": "", "ratio": 0.5, "items": ["a"]}
    form = build_form(chart, schema, values)
    assert form.disabled_dependencies == ["postgresql"]
    assert form.field("mode").readonly and form.field("mode").required
    assert form.field("locked").readonly and not form.field("notes").readonly
    assert form.field("notes").widget == "textArea"
    ratio = form.field("ratio")
    assert (ratio.widget, ratio.minimum, ratio.maximum) == ("number", 0, 1)
    items = form.field("items")
    assert (items.can_add, items.can_remove) == (False, False)
    assert [(c.path_text, c.title, c.value) for c in items.children] == [("items[0]", "items 0", "a")]
    enabled = build_form(chart, schema, {**values, "db": {"enabled": True}})
    assert list(enabled.dependencies) == ["postgresql"]


def test_chart_without_schema_gets_one_field_per_key() -> None:
    chart = small_chart(None, {})
    form = build_form(chart, None, {"replicas": 2, "image": {"tag": "x"}, "debug": False, "name": "n"})
    assert [(n.path_text, n.widget) for n in form.main] == [
        ("replicas", "integer"),
        ("image", "yaml"),
        ("debug", "checkbox"),
        ("name", "text"),
    ]
