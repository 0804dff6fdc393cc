"""Onyxia-compatible JSON shapes of catalogs and charts, for the REST layer (ONYXIA-REFERENCE 1.2 and 1.3).

- ``catalog_wrapper_json``: a ``CatalogWrapper`` as ``/public/catalogs`` and ``/my-lab/catalogs`` serve it (the
  configuration without its write-only keys, ``lastUpdateTime``, and ``catalog.latestPackages``: the index entry
  of each chart's newest kept version plus ``defaultValues``, the raw ``values.yaml``);
- ``catalogs_json``: ``{"catalogs": [...]}``;
- ``chart_versions_json``: ``GET /my-lab/catalogs/{catalogId}/charts/{chartName}``, every kept version;
- ``chart_entry_json``: one index entry (``Chart``);
- ``resolved_schema_json``: ``GET /my-lab/schemas/...``, the resolved schema (None: empty body, no schema).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sardonyx.catalog.model import Catalog, ChartVersion
from sardonyx.catalog.schemas import ResolvedSchema
from sardonyx.catalog.service import CatalogState

_ENTRY_KEYS = (
    "apiVersion",
    "name",
    "version",
    "appVersion",
    "description",
    "icon",
    "home",
    "sources",
    "keywords",
    "maintainers",
    "urls",
    "type",
    "dependencies",
    "annotations",
    "created",
    "digest",
    "deprecated",
    "kubeVersion",
)


def _json_safe(value: Any) -> Any:
    """YAML may hold dates and other non-JSON scalars (``created``): make them JSON."""
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def chart_entry_json(chart: ChartVersion) -> dict[str, Any]:
    """One chart version as an index entry (``Chart`` of onyxia-model): index keys, defaults from Chart.yaml."""
    entry: dict[str, Any] = {}
    for key in _ENTRY_KEYS:
        value = chart.metadata.get(key)
        if value is None:
            value = chart.chart_yaml.get(key)
        if value is not None:
            entry[key] = _json_safe(value)
    entry["name"] = chart.name
    entry["version"] = chart.version
    entry.setdefault("type", chart.chart_type)
    return entry


def latest_package_json(chart: ChartVersion) -> dict[str, Any]:
    """An entry of ``catalog.latestPackages``: the index entry plus ``defaultValues`` (raw values.yaml)."""
    return {**chart_entry_json(chart), "defaultValues": chart.values_yaml}


def catalog_wrapper_json(state: CatalogState | Catalog) -> dict[str, Any]:
    """A ``CatalogWrapper`` as onyxia-api serves it (``username``/``password``/``restrictions`` never appear)."""
    config = state.config
    catalog: Catalog | None = state if isinstance(state, Catalog) else state.catalog
    wrapper = config.public_dict()
    wrapper["lastUpdateTime"] = catalog.last_update_time if catalog is not None else 0
    if isinstance(state, CatalogState) and state.error:
        wrapper["error"] = state.error  # Sardonyx's addition: why the last load failed (`sardonyx catalog list`)
    if catalog is None:
        wrapper["catalog"] = None
        return wrapper
    wrapper["catalog"] = {
        "apiVersion": str(catalog.index.get("apiVersion", "v1")),
        "generated": _json_safe(catalog.index.get("generated")),
        "latestPackages": {chart.name: latest_package_json(chart) for chart in catalog.latest_charts()},
    }
    return wrapper


def catalogs_json(states: Sequence[CatalogState]) -> dict[str, Any]:
    """``{"catalogs": [CatalogWrapper...]}`` (``GET /public/catalogs``, ``GET /my-lab/catalogs``)."""
    return {"catalogs": [catalog_wrapper_json(state) for state in states]}


def chart_versions_json(versions: Sequence[ChartVersion]) -> list[dict[str, Any]]:
    """Every kept version of a chart, newest first (``GET /my-lab/catalogs/{c}/charts/{n}``)."""
    return [chart_entry_json(version) for version in versions]


def resolved_schema_json(schema: ResolvedSchema | None) -> Mapping[str, Any] | None:
    """The resolved ``values.schema.json`` (``GET /my-lab/schemas/...``); None for a chart without schema."""
    return None if schema is None else schema.schema
