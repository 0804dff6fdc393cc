"""Catalog engine benchmarks: ``python -m benchmarks.catalog``.

Targets (issue 2): loading a catalog of 20+ charts with several versions from local archives in under 1 s;
computing the values of jupyter-python in under 20 ms (median). Also reported: the same load with the archive
cache already filled, the first computation of a chart version (schema resolution and validator compilation),
and the launcher form of jupyter-python (the web UI's budget is 100 ms for the whole form).

The repository is built from the real Onyxia charts of ``../shared/fixtures/onyxia``: 24 charts (copies of the
five fixture charts under other names) x 3 versions = 72 archives, with ``index.yaml``, in a temporary folder.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import Figure, median_seconds, report
from sardonyx.catalog import CatalogConfig, CatalogService, LaunchContext, SchemaRegistry, load_catalog
from sardonyx.catalog.form import build_form
from sardonyx.catalog.loader import load_yaml
from sardonyx.catalog.overrides import parse_set_options
from sardonyx.catalog.packaging import package_chart, write_repository_index
from sardonyx.settings import REPO_ROOT

FIXTURES = (REPO_ROOT.parent / "shared" / "fixtures" / "onyxia").resolve()
CHARTS = ("jupyter-python", "vscode-python", "rstudio", "mlflow", "postgresql")
CHART_COUNT = 24
VERSIONS = ("1.0.0", "1.1.0", "2.0.0")


def build_repository(root: Path) -> Path:
    """A Helm repository of ``CHART_COUNT`` charts x ``VERSIONS`` built from the fixture charts."""
    repo = root / "repo"
    for index in range(CHART_COUNT):
        base = CHARTS[index % len(CHARTS)]
        chart_yaml = load_yaml((FIXTURES / base / "Chart.yaml").read_text(encoding="utf-8"))
        for version in VERSIONS:
            name = base if index < len(CHARTS) else f"{base}-{index}"
            package_chart(FIXTURES / base, repo, chart_yaml={**chart_yaml, "name": name, "version": version})
    write_repository_index(repo)
    return repo


def main() -> int:
    if not FIXTURES.is_dir():
        print(f"the Onyxia fixtures are missing: {FIXTURES}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="sardonyx-bench-catalog-") as tmp:
        root = Path(tmp)
        repo = build_repository(root)
        archives = len(list(repo.glob("*.tgz")))
        config = CatalogConfig.model_validate({"id": "bench", "location": str(repo), "multipleServicesMode": "all"})

        cold_timings: list[float] = []
        for run in range(5):
            cache = root / f"cold-{run}"
            service = CatalogService([config], cache_dir=cache)
            started = time.perf_counter()
            service.load()
            cold_timings.append(time.perf_counter() - started)
            catalog = service.catalog("bench")
            assert len(catalog.charts) == CHART_COUNT and catalog.problems == ()
            assert sum(len(v) for v in catalog.charts.values()) == archives
            shutil.rmtree(cache)

        warm_cache = root / "warm"
        load_catalog(config, cache_dir=warm_cache)

        def warm_load() -> None:
            CatalogService([config], cache_dir=warm_cache).load()

        warm, warm_timings = median_seconds(warm_load, runs=7)

        registry = SchemaRegistry([FIXTURES / "onyxia-api-schemas"])
        context = LaunchContext.local_default(login="bench", domain="lab.example.org")
        overrides = parse_set_options(["resources.limits.memory=8Gi", "persistence.size=20Gi"])

        first_timings: list[float] = []
        for _ in range(5):
            fresh = CatalogService([config], cache_dir=warm_cache, schema_registry=registry)
            fresh.load()
            jupyter = fresh.chart_version("bench", "jupyter-python")
            started = time.perf_counter()
            fresh.compute_values(jupyter, context, overrides)
            first_timings.append(time.perf_counter() - started)

        service = CatalogService([config], cache_dir=warm_cache, schema_registry=registry)
        jupyter = service.chart_version("bench", "jupyter-python")
        values, values_timings = median_seconds(lambda: service.compute_values(jupyter, context, overrides), runs=200)

        def form() -> None:
            computed = service.compute_values(jupyter, context)
            schema = computed.schema.schema if computed.schema is not None else None
            build_form(jupyter, schema, computed.values, defaults=computed.defaults, context=computed.context)

        form_median, form_timings = median_seconds(form, runs=50)

    print(f"repository: {CHART_COUNT} charts x {len(VERSIONS)} versions = {archives} archives")
    figures = [
        Figure(f"load {archives} chart archives, empty cache", statistics.median(cold_timings), "s", 1.0, runs=5),
        Figure(f"load {archives} chart archives, cache filled", warm, "s", 1.0, runs=len(warm_timings)),
        Figure(
            "jupyter-python values, first time (resolve + compile)",
            statistics.median(first_timings) * 1000,
            "ms",
            runs=5,
        ),
        Figure(
            "jupyter-python values (defaults + 2 overrides + validation)",
            values * 1000,
            "ms",
            20.0,
            runs=len(values_timings),
        ),
        Figure("jupyter-python launcher form (values + form)", form_median * 1000, "ms", 100.0, runs=len(form_timings)),
    ]
    return 0 if report("catalog", figures) else 1


if __name__ == "__main__":
    raise SystemExit(main())
