"""The catalog service: every configured catalog, loaded concurrently, cached and refreshed in the background.

One ``CatalogService`` per process (build it with ``CatalogService.from_settings``). Readers get immutable
snapshots and never wait for a refresh: a refresh reads every catalog aside and swaps the results in; a catalog
whose refresh fails keeps its last good content and records the error (``CatalogState.error``). The first
read loads the catalogs if ``load()`` was not called (blocking, concurrently across catalogs and archives).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from sardonyx.catalog.commands import helm_commands, sardonyx_launch_command
from sardonyx.catalog.compute import ComputedValues, compute_values, context_dict
from sardonyx.catalog.config import (
    CatalogConfig,
    CatalogStatus,
    MultipleServicesMode,
    adhoc_catalog_config,
    load_catalog_configs,
)
from sardonyx.catalog.context import LaunchContext
from sardonyx.catalog.form import FormDescription, build_form
from sardonyx.catalog.loader import DEFAULT_HTTP_TIMEOUT, load_catalog
from sardonyx.catalog.model import Catalog, ChartVersion
from sardonyx.catalog.overrides import Override
from sardonyx.catalog.schemas import ResolvedSchema, ResolvedSchemaCache, SchemaRegistry
from sardonyx.catalog.values import compute_default_values
from sardonyx.errors import CatalogError, NotFound, SardonyxError
from sardonyx.settings import Settings, builtin_catalog_dir

logger = logging.getLogger(__name__)

BUILTIN_CATALOG_ID = "builtin"
"""Id of the catalog shipped with the platform."""

ProjectKind = Literal["user", "group"]


@dataclass(frozen=True)
class CatalogState:
    """What the service knows of one configured catalog.

    Attributes:
        config: its configuration.
        catalog: the last good load, or None if it never loaded.
        error: the error of the last load attempt, None when it succeeded.
        last_attempt_time: when the last load attempt ended (ms since the epoch), 0 before the first.
        failures: load attempts failed in a row (0 after a success): the retry back-off doubles with each.
    """

    config: CatalogConfig
    catalog: Catalog | None = None
    error: str | None = None
    last_attempt_time: int = 0
    failures: int = 0

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def loaded(self) -> bool:
        return self.catalog is not None


@dataclass(frozen=True)
class LaunchCommands:
    """What a launch is equivalent to: ``helm`` command lines and one ``sardonyx launch`` line."""

    helm: list[str]
    sardonyx: str


def keep_good_versions(catalog: Catalog, previous: Catalog | None) -> Catalog:
    """``catalog`` where a version that failed to load (a download error during a refresh) is replaced by the
    good copy of the previous load, when its index entry (digest) is unchanged."""
    if previous is None:
        return catalog
    charts: dict[str, tuple[ChartVersion, ...]] = {}
    kept: list[str] = []
    for name, versions in catalog.charts.items():
        before = {v.version: v for v in previous.charts.get(name, ()) if not v.problems}
        chosen: list[ChartVersion] = []
        for version in versions:
            good = before.get(version.version)
            if version.problems and good is not None and good.metadata.get("digest") == version.metadata.get("digest"):
                chosen.append(good)
                kept.append(f"{name} {version.version}")
            else:
                chosen.append(version)
        charts[name] = tuple(chosen)
    if not kept:
        return catalog
    problems = [p for p in catalog.problems if not any(p.startswith(f"{k}: ") for k in kept)]
    problems += [f"{k}: could not be read again, the previous copy is kept" for k in kept]
    return replace(catalog, charts=charts, problems=tuple(problems))


def is_visible_to(config: CatalogConfig, claims: Mapping[str, Any] | None) -> bool:
    """onyxia-api's ``CatalogRestrictionServiceImpl``: every restriction must match a claim of the user.

    A claim that is a list matches when one of its strings fully matches the regex; a string when it fully
    matches; a boolean when its text equals the pattern (case-insensitive). ``claims=None`` is an anonymous
    user: restricted catalogs are hidden.
    """
    if not config.restrictions:
        return True
    if claims is None:
        return False
    for restriction in config.restrictions:
        attribute = restriction.user_attribute
        if attribute is None or attribute.matches is None or attribute.key not in claims:
            return False
        try:
            pattern = re.compile(attribute.matches)
        except re.error:
            return False
        claim = claims[attribute.key]
        if isinstance(claim, bool):
            ok = str(claim).lower() == attribute.matches.lower()
        elif isinstance(claim, str):
            ok = pattern.fullmatch(claim) is not None
        elif isinstance(claim, list):
            ok = any(isinstance(c, str) and pattern.fullmatch(c) is not None for c in claim)
        else:
            ok = False
        if not ok:
            return False
    return True


class CatalogService:
    """Catalogs, charts, schemas and values for the whole platform.

    Args:
        configs: the catalogs, in display order.
        cache_dir: where chart archives are extracted (one folder per catalog).
        schema_registry: admin schemas for ``$ref`` and ``overwriteSchemaWith``.
        refresh_seconds: interval of the background refresh (``start_refresh``); 0 or less: load once.
        http_timeout: seconds per HTTP request.
        max_workers: threads reading chart archives concurrently.
    """

    def __init__(
        self,
        configs: Sequence[CatalogConfig],
        *,
        cache_dir: Path,
        schema_registry: SchemaRegistry | None = None,
        refresh_seconds: float = 0.0,
        http_timeout: float = DEFAULT_HTTP_TIMEOUT,
        max_workers: int = 8,
    ) -> None:
        ids = [config.id for config in configs]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise CatalogError(f"duplicate catalog ids: {', '.join(duplicates)}")
        self.cache_dir = cache_dir
        self.schema_registry = schema_registry or SchemaRegistry.empty()
        self.refresh_seconds = refresh_seconds
        self.http_timeout = http_timeout
        self._max_workers = max_workers
        self._states: dict[str, CatalogState] = {c.id: CatalogState(c) for c in configs}
        self._order = ids
        self._schemas = ResolvedSchemaCache(self.schema_registry)
        self._load_lock = threading.Lock()
        self._loaded_once = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, catalogs: Sequence[CatalogConfig] | None = None) -> CatalogService:
        """The service the platform uses: ``builtin`` (when ``settings.builtin_catalog``) then the catalogs of
        ``settings.catalogs_file``; or exactly ``catalogs`` when given. Registry from ``schemas_dir`` and
        ``role_schemas_dir``, cache under ``catalog_cache_dir``.

        Raises:
            CatalogConfigError: the catalogs file is unreadable or invalid.
            CatalogError: the schema registry holds invalid schemas, or two catalogs share an id.
        """
        if catalogs is None:
            configs: list[CatalogConfig] = []
            if settings.builtin_catalog:
                configs.append(builtin_catalog_config())
            if settings.catalogs_file is not None:
                configs.extend(load_catalog_configs(settings.catalogs_file))
        else:
            configs = list(catalogs)
        registry = SchemaRegistry(
            [settings.schemas_dir] if settings.schemas_dir is not None else [],
            role_directory=settings.role_schemas_dir,
        )
        return cls(
            configs,
            cache_dir=catalog_cache_dir(settings),
            schema_registry=registry,
            refresh_seconds=settings.catalog_refresh_seconds,
        )

    # ------------------------------------------------------------------------------------------ loading

    def load(self) -> None:
        """Read every catalog now, concurrently (blocking); failures are recorded per catalog, never raised."""
        with self._load_lock:
            self._reload()
            self._loaded_once = True

    def refresh(self) -> None:
        """Re-read every catalog; a catalog that fails keeps its last good content (alias of ``load``)."""
        self.load()

    def _reload(self, only: set[str] | None = None) -> None:
        configs = [self._states[i].config for i in self._order if only is None or i in only]
        if not configs:
            return
        with (
            ThreadPoolExecutor(max_workers=len(configs), thread_name_prefix="catalog") as catalogs_pool,
            ThreadPoolExecutor(max_workers=self._max_workers, thread_name_prefix="chart") as archives_pool,
        ):
            futures = {
                c.id: catalogs_pool.submit(
                    load_catalog, c, cache_dir=self.cache_dir, executor=archives_pool, http_timeout=self.http_timeout
                )
                for c in configs
            }
            for catalog_id, future in futures.items():
                now = int(time.time() * 1000)
                previous = self._states[catalog_id]
                failures = previous.failures + 1
                try:
                    catalog = future.result()
                except SardonyxError as error:
                    state = replace(previous, error=error.message, last_attempt_time=now, failures=failures)
                    self._log_failure(state)
                except Exception as error:  # a bug in a loader must not take the other catalogs down
                    logger.exception("catalog %s could not be loaded", catalog_id)
                    state = replace(previous, error=f"unexpected error: {error}", last_attempt_time=now,
                                    failures=failures)  # fmt: skip
                else:
                    catalog = keep_good_versions(catalog, previous.catalog)
                    for problem in catalog.problems:
                        logger.warning("catalog %s: %s", catalog_id, problem)
                    if previous.failures:
                        logger.info("catalog %s loaded after %d failed attempts", catalog_id, previous.failures)
                    state = replace(previous, catalog=catalog, error=None, last_attempt_time=now, failures=0)
                # one assignment: readers see the old or the new state, never a mix
                self._states = {**self._states, catalog_id: state}

    def retry_delay(self, failures: int) -> float:
        """Seconds before the next attempt at a catalog that failed ``failures`` times in a row: 1, 2, 4... s,
        at most ``refresh_seconds`` (a catalog that never loads is then tried at the refresh interval)."""
        return min(float(2 ** max(0, failures - 1)), max(self.refresh_seconds, 1.0))

    def _log_failure(self, state: CatalogState) -> None:
        """One line per failed attempt, with when the next one is (retries only run with a refresh thread)."""
        message = f"catalog {state.id} did not load (attempt {state.failures}): {state.error}"
        if self.refresh_seconds > 0:
            message += f"; next attempt in {self.retry_delay(state.failures):g} s"
        logger.warning("%s", message)

    def _ensure_loaded(self) -> None:
        if not self._loaded_once:
            with self._load_lock:
                if not self._loaded_once:
                    self._reload()
                    self._loaded_once = True

    def start_refresh(self) -> None:
        """Start the background refresh thread (every ``refresh_seconds``; nothing when it is 0 or less).
        The first load happens in that thread if nothing loaded yet; readers meanwhile wait for it."""
        if self.refresh_seconds <= 0 or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._refresh_loop, name="catalog-refresh", daemon=True)
        self._thread.start()

    def stop_refresh(self, timeout: float = 5.0) -> None:
        """Stop the background refresh thread (waits up to ``timeout`` seconds for a refresh in progress)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _refresh_loop(self) -> None:
        """Refresh every catalog each ``refresh_seconds``; between two refreshes, retry the catalogs that failed
        with back-off (``retry_delay``), each attempt logged in one line."""
        self._ensure_loaded()
        next_refresh = time.monotonic() + self.refresh_seconds
        while True:
            failed = [state for state in self._states.values() if state.error is not None]
            now = time.monotonic()
            retry_at = min((now + self.retry_delay(s.failures) for s in failed), default=next_refresh)
            wake = min(retry_at, next_refresh)
            if self._stop.wait(max(0.0, wake - now)):
                return
            try:
                if time.monotonic() >= next_refresh:
                    self.refresh()
                    next_refresh = time.monotonic() + self.refresh_seconds
                elif failed:
                    with self._load_lock:
                        self._reload(only={state.id for state in failed})
            except Exception:  # pragma: no cover - _reload records errors itself
                logger.exception("catalog refresh failed")

    # ------------------------------------------------------------------------------------------ reading

    @property
    def all_loaded(self) -> bool:
        """True once every catalog loaded at least once (onyxia-api's healthcheck fails until then)."""
        return self._loaded_once and all(state.catalog is not None for state in self._states.values())

    def states(self) -> list[CatalogState]:
        """Every configured catalog with its load status, in configuration order."""
        self._ensure_loaded()
        states = self._states
        return [states[i] for i in self._order]

    def state(self, catalog_id: str) -> CatalogState:
        """Raises ``NotFound`` (listing the known ids) for an unknown catalog."""
        self._ensure_loaded()
        state = self._states.get(catalog_id)
        if state is None:
            known = ", ".join(self._order) or "none"
            raise NotFound(f"no catalog {catalog_id!r} (catalogs: {known})")
        return state

    def catalog(self, catalog_id: str) -> Catalog:
        """A loaded catalog (its last good content).

        Raises:
            NotFound: unknown catalog id.
            CatalogError: the catalog never loaded (the message gives the reason).
        """
        state = self.state(catalog_id)
        if state.catalog is None:
            raise CatalogError(f"catalog {catalog_id!r} is not available: {state.error or 'not loaded yet'}")
        return state.catalog

    def visible_catalogs(
        self,
        claims: Mapping[str, Any] | None = None,
        *,
        project_kind: ProjectKind | None = None,
        include_test: bool = True,
        restricted: bool = True,
    ) -> list[CatalogState]:
        """Catalogs a user sees: restrictions checked against ``claims`` (None = anonymous, like
        ``/public/catalogs``; ``restricted=False`` skips the check for trusted internal callers), ``visible.user``
        / ``visible.project`` against ``project_kind`` (personal ``user`` or ``group`` project; None: no check),
        and ``TEST`` catalogs only when ``include_test`` (the UI shows tabs for ``PROD`` only)."""
        visible: list[CatalogState] = []
        for state in self.states():
            config = state.config
            if restricted and not is_visible_to(config, claims):
                continue
            if project_kind == "user" and not config.visible.user:
                continue
            if project_kind == "group" and not config.visible.project:
                continue
            if not include_test and config.status is CatalogStatus.TEST:
                continue
            visible.append(state)
        return visible

    def require_visible(self, catalog_id: str, claims: Mapping[str, Any] | None) -> Catalog:
        """The catalog if the user may use it; a restricted one is reported as absent.

        Raises:
            NotFound: unknown catalog, or not visible to this user.
            CatalogError: the catalog never loaded.
        """
        state = self.state(catalog_id)
        if not is_visible_to(state.config, claims):
            raise NotFound(f"no catalog {catalog_id!r}")
        return self.catalog(catalog_id)

    def charts(self, catalog_id: str) -> list[ChartVersion]:
        """The newest kept version of each chart, highlighted charts first (the catalog page)."""
        return self.catalog(catalog_id).latest_charts()

    def versions(self, catalog_id: str, chart: str) -> list[ChartVersion]:
        """Kept versions of a chart, newest first. Raises ``NotFound``."""
        return self.catalog(catalog_id).versions(chart)

    def chart_version(self, catalog_id: str, chart: str, version: str | None = None) -> ChartVersion:
        """One chart version (``None``: the default version, the newest non-pre-release).

        Raises:
            NotFound: unknown catalog, chart or version (the message lists what exists).
            CatalogError: the catalog never loaded.
        """
        return self.catalog(catalog_id).get(chart, version)

    def find_chart(
        self, chart: str, version: str | None = None, *, claims: Mapping[str, Any] | None = None
    ) -> ChartVersion:
        """A chart by name when no catalog is named (``sardonyx launch jupyter-python``, a ``PUT /my-lab/app``
        without ``catalogId``), among the catalogs the user sees (restrictions checked against ``claims``).

        A chart in several catalogs resolves in the catalogs' order: the built-in catalog first, then the order
        of the catalogs file (the order of Onyxia's catalog tabs). A restricted catalog the user cannot see is
        never chosen nor named.

        Raises:
            NotFound: no visible catalog has it (visible catalogs that failed to load are named with their error).
        """
        visible = self.visible_catalogs(claims)
        holders = [s.id for s in visible if s.catalog is not None and chart in s.catalog.charts]
        if not holders:
            failed = [f"{s.id} ({s.error})" for s in visible if s.error]
            detail = f"; catalogs that failed to load: {', '.join(failed)}" if failed else ""
            raise NotFound(f"no chart {chart!r} in any catalog{detail}")
        return self.chart_version(holders[0], chart, version)

    def catalog_option(self, chart: ChartVersion, claims: Mapping[str, Any] | None = None) -> str | None:
        """The ``--catalog`` a ``sardonyx launch`` line names for ``chart``: None when no other catalog the user
        sees has a chart of that name, else its catalog id (explicit, though ``find_chart`` resolves by order)."""
        visible = self.visible_catalogs(claims)
        holders = [s.id for s in visible if s.catalog is not None and chart.name in s.catalog.charts]
        return None if holders == [chart.catalog_id] else chart.catalog_id

    # ------------------------------------------------------------------------------------------ schemas, values

    def resolved_schema(self, chart: ChartVersion, roles: Sequence[str] = ()) -> ResolvedSchema | None:
        """The chart's schema with ``$ref``/``overwriteSchemaWith`` resolved for ``roles`` (cached per chart
        version, schema digest and roles; validator compiled once); None for a chart without schema.

        Raises:
            CatalogError: the chart version has problems, or the resolved schema is not a valid JSON schema.
        """
        chart.require_usable()
        if chart.schema is None:
            return None
        key = (chart.catalog_id, chart.name, chart.version, chart.schema_digest)
        return self._schemas.get(key, chart.schema, roles, source=f"chart {chart.ref}")

    def compute_values(
        self,
        chart: ChartVersion,
        context: LaunchContext | Mapping[str, Any],
        overrides: Sequence[Override] = (),
        *,
        roles: Sequence[str] = (),
    ) -> ComputedValues:
        """The validated values of a launch (defaults from ``context``, then ``overrides``).

        Raises:
            CatalogError: unusable chart version or invalid schema.
            InvalidValues: every violation of the overrides and of the final values, at once.
        """
        return compute_values(chart, self.resolved_schema(chart, roles), context, overrides)

    def form(
        self,
        chart: ChartVersion,
        context: LaunchContext | Mapping[str, Any],
        *,
        values: Mapping[str, Any] | None = None,
        roles: Sequence[str] = (),
    ) -> FormDescription:
        """The launcher form of ``chart``: fields for the resolved schema, showing ``values`` (the user's current,
        possibly invalid, values; default: the computed defaults) with the computed defaults beside them.

        Raises:
            CatalogError: unusable chart version or invalid schema.
        """
        schema = self.resolved_schema(chart, roles)
        raw = schema.schema if schema is not None else None
        ctx = context_dict(context)
        defaults = compute_default_values(raw, chart.values, ctx)
        shown = dict(values) if values is not None else defaults
        return build_form(chart, raw, shown, defaults=defaults, context=ctx)

    def equivalent_commands(
        self,
        computed: ComputedValues,
        *,
        release: str,
        namespace: str | None = None,
        friendly_name: str | None = None,
        reveal: bool = False,
    ) -> LaunchCommands:
        """The command bar of a launch: ``helm`` lines (``--version`` only when it is not the default version;
        pass ``namespace`` for group projects only, as Onyxia shows them) and the ``sardonyx launch`` line of the
        user's changes; secrets masked unless ``reveal``.

        Raises:
            InvalidName: invalid release, namespace or names.
        """
        chart = computed.chart
        catalog = self.catalog(chart.catalog_id)
        is_default = catalog.default_version(chart.name).version == chart.version
        version = None if is_default else chart.version
        helm = helm_commands(
            catalog.config,
            chart,
            release=release,
            values=computed.values,
            namespace=namespace,
            version=version,
            reveal=reveal,
        )
        launch = sardonyx_launch_command(
            chart.name,
            computed.changes(),
            catalog_id=self.catalog_option(chart),
            version=version,
            name=friendly_name,
            reveal=reveal,
        )
        return LaunchCommands(helm=helm, sardonyx=launch)

    def clear_schema_cache(self) -> None:
        """Forget resolved schemas (after the registry's files changed)."""
        self._schemas.clear()


def builtin_catalog_config() -> CatalogConfig:
    """The built-in catalog: the folder ``catalogs/builtin`` of the platform, every version kept."""
    return CatalogConfig.model_validate(
        {
            "id": BUILTIN_CATALOG_ID,
            "name": {"en": "Built-in services", "fr": "Services intégrés"},
            "description": "The services shipped with Sardonyx.",
            "location": str(builtin_catalog_dir()),
            "multipleServicesMode": MultipleServicesMode.ALL.value,
        }
    )


def catalog_cache_dir(settings: Settings) -> Path:
    """Where chart archives are extracted: ``settings.catalog_cache_dir``, else ``<data_dir>/cache/catalogs``."""
    return settings.catalog_cache_dir or settings.data_dir / "cache" / "catalogs"


def catalog_configs_for(selector: str, settings: Settings) -> list[CatalogConfig]:
    """Resolve a CLI ``--catalog`` argument: the id of a configured catalog, else a path or URL read directly.

    Raises:
        CatalogConfigError: the catalogs file is invalid.
        NotFound: neither a known id, nor an existing path, nor an http(s)/file URL.
    """
    configured: list[CatalogConfig] = []
    if settings.builtin_catalog and selector == BUILTIN_CATALOG_ID:
        return [builtin_catalog_config()]
    if settings.catalogs_file is not None:
        configured = load_catalog_configs(settings.catalogs_file)
    for config in configured:
        if config.id == selector:
            return [config]
    if re.match(r"^(https?|file)://", selector) or Path(selector).expanduser().exists():
        return [adhoc_catalog_config(selector)]
    known = [BUILTIN_CATALOG_ID] if settings.builtin_catalog else []
    known += [c.id for c in configured]
    raise NotFound(
        f"--catalog {selector!r} is neither a catalog id ({', '.join(known) or 'none configured'}), "
        "an existing path, nor an http(s):// or file:// URL"
    )
