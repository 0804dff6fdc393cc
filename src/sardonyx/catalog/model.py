"""What a loaded catalog holds: chart versions with their metadata, values and schema, newest first.

Objects here are immutable snapshots: a refresh builds new ones and swaps them in, so a reader never sees a
half-loaded catalog. The dicts they hold (``values``, ``schema``, ``metadata``) are shared: never mutate them
(every computation in this package copies what it changes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sardonyx.catalog.config import CatalogConfig
from sardonyx.catalog.versions import is_prerelease
from sardonyx.errors import CatalogError, NotFound


@dataclass(frozen=True, eq=False)
class ChartDependency:
    """One entry of ``Chart.yaml`` ``dependencies``: its name (also the values key of a sub-chart) and the
    ``condition`` path that enables it (``postgresql.enabled``), split on dots; None when unconditional."""

    name: str
    version: str | None
    repository: str | None
    condition: tuple[str, ...] | None
    alias: str | None = None

    @property
    def values_key(self) -> str:
        """The top-level values key of the sub-chart (its alias, else its name)."""
        return self.alias or self.name


@dataclass(frozen=True, eq=False)
class ChartVersion:
    """One version of one chart, as read from its archive or folder.

    Attributes:
        catalog_id: the catalog holding it.
        name, version: chart name and version (``index.yaml``/``Chart.yaml``).
        metadata: the ``index.yaml`` entry (for folder catalogs: ``Chart.yaml``): description, icon, home,
            sources, keywords, annotations, type, dependencies, urls, appVersion, digest...
        chart_yaml: the parsed ``Chart.yaml`` of the chart itself ({} when the archive has none).
        values_yaml: raw text of ``values.yaml`` ("" when absent) - Onyxia's ``defaultValues``.
        values: ``values.yaml`` parsed (a dict; {} when absent or empty).
        schema: ``values.schema.json`` parsed, unresolved; None when the chart has no schema.
        schema_digest: sha256 of the schema text ("" without schema), part of the resolved-schema cache key.
        recipe: ``recipe.yaml`` parsed, as a raw dict (the local runtime validates it); None when absent.
        notes: raw ``templates/NOTES.txt``; None when absent.
        directory: the chart's folder on disk (folder catalogs) or its extracted archive (cache), else None.
        archive: the downloaded ``.tgz`` in the cache, for archive catalogs.
        problems: what is wrong with this version (invalid JSON schema, unreadable archive...); computing
            values for it raises ``CatalogError`` with them.
    """

    catalog_id: str
    name: str
    version: str
    metadata: Mapping[str, Any]
    chart_yaml: Mapping[str, Any] = field(default_factory=dict)
    values_yaml: str = ""
    values: Mapping[str, Any] = field(default_factory=dict)
    schema: Mapping[str, Any] | None = None
    schema_digest: str = ""
    recipe: Mapping[str, Any] | None = None
    notes: str | None = None
    directory: Path | None = None
    archive: Path | None = None
    problems: tuple[str, ...] = ()

    def _meta(self, key: str) -> Any:
        value = self.metadata.get(key)
        return self.chart_yaml.get(key) if value is None else value

    @property
    def description(self) -> str:
        return str(self._meta("description") or "")

    @property
    def icon(self) -> str | None:
        icon = self._meta("icon")
        return str(icon) if icon else None

    @property
    def home(self) -> str | None:
        home = self._meta("home")
        return str(home) if home else None

    @property
    def app_version(self) -> str | None:
        app_version = self._meta("appVersion")
        return str(app_version) if app_version is not None else None

    @property
    def sources(self) -> list[str]:
        return [str(s) for s in self._meta("sources") or []]

    @property
    def keywords(self) -> list[str]:
        return [str(k) for k in self._meta("keywords") or []]

    @property
    def annotations(self) -> dict[str, str]:
        annotations = self._meta("annotations") or {}
        return {str(k): str(v) for k, v in annotations.items()} if isinstance(annotations, Mapping) else {}

    @property
    def chart_type(self) -> str:
        """``application`` (default) or ``library``."""
        return str(self._meta("type") or "application")

    @property
    def is_library(self) -> bool:
        """Library charts are not launchable and never listed."""
        return self.chart_type == "library"

    @property
    def is_prerelease(self) -> bool:
        return is_prerelease(self.version)

    @property
    def has_schema(self) -> bool:
        return self.schema is not None

    @property
    def dependencies(self) -> list[ChartDependency]:
        deps: list[ChartDependency] = []
        for dep in self._meta("dependencies") or []:
            if not isinstance(dep, Mapping) or not dep.get("name"):
                continue
            condition = dep.get("condition")
            first = str(condition).split(",")[0].strip() if condition else ""
            deps.append(
                ChartDependency(
                    name=str(dep["name"]),
                    version=str(dep["version"]) if dep.get("version") is not None else None,
                    repository=str(dep["repository"]) if dep.get("repository") else None,
                    condition=tuple(first.split(".")) if first else None,
                    alias=str(dep["alias"]) if dep.get("alias") else None,
                )
            )
        return deps

    @property
    def ref(self) -> str:
        """``<catalog>/<chart>@<version>``, for messages."""
        return f"{self.catalog_id}/{self.name}@{self.version}"

    def require_usable(self) -> None:
        """Raise ``CatalogError`` listing this version's problems, if it has any."""
        if self.problems:
            raise CatalogError(f"chart {self.ref} cannot be used: {'; '.join(self.problems)}")


@dataclass(frozen=True, eq=False)
class Catalog:
    """A loaded catalog: its configuration, and the kept versions of each launchable chart (newest first).

    Attributes:
        config: the catalog configuration.
        charts: chart name -> versions kept by ``multipleServicesMode``, newest first; library charts and
            filtered-out charts are absent.
        index: ``apiVersion`` and ``generated`` of ``index.yaml`` (empty for folder catalogs).
        last_update_time: when it was loaded, in milliseconds since the epoch (Onyxia's ``lastUpdateTime``).
        problems: non-fatal problems found while loading (one chart version that could not be read...).
    """

    config: CatalogConfig
    charts: Mapping[str, tuple[ChartVersion, ...]]
    index: Mapping[str, Any] = field(default_factory=dict)
    last_update_time: int = 0
    problems: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return self.config.id

    def chart_names(self) -> list[str]:
        """Chart names, highlighted charts first (in ``highlightedCharts`` order), then alphabetically."""
        highlighted = [name for name in self.config.highlighted_charts if name in self.charts]
        rest = sorted(name for name in self.charts if name not in set(highlighted))
        return highlighted + rest

    def latest_charts(self) -> list[ChartVersion]:
        """The newest kept version of every chart, highlighted first (what the catalog page lists)."""
        return [self.charts[name][0] for name in self.chart_names()]

    def versions(self, chart: str) -> list[ChartVersion]:
        """Kept versions of ``chart``, newest first.

        Raises:
            NotFound: no such chart in this catalog.
        """
        versions = self.charts.get(chart)
        if not versions:
            known = ", ".join(self.chart_names()) or "none"
            raise NotFound(f"no chart {chart!r} in catalog {self.id!r} (charts: {known})")
        return list(versions)

    def default_version(self, chart: str) -> ChartVersion:
        """The launcher's default: the newest version that is not a pre-release, else the newest.

        Raises:
            NotFound: no such chart in this catalog.
        """
        versions = self.versions(chart)
        return next((v for v in versions if not v.is_prerelease), versions[0])

    def get(self, chart: str, version: str | None = None) -> ChartVersion:
        """One chart version; ``version=None`` gives the default version.

        Raises:
            NotFound: no such chart, or no such version (the message lists the available ones).
        """
        if version is None:
            return self.default_version(chart)
        versions = self.versions(chart)
        for candidate in versions:
            if candidate.version == version:
                return candidate
        available = ", ".join(v.version for v in versions)
        raise NotFound(f"chart {chart!r} of catalog {self.id!r} has no version {version!r} (versions: {available})")
