"""Real components for the runtime's integration tests: the session's SeaweedFS (``tests/conftest.py``, from
``sardonyx.storage.testing``) with the project's bucket and keys scoped to it, a shared environment cache, a
local runtime, and launch values computed by the catalog engine from the built-in charts and a launch context.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from sardonyx.catalog import CatalogService, LaunchContext, Override, S3Context, parse_values_path
from sardonyx.catalog.service import builtin_catalog_config
from sardonyx.runtimes.base import ServiceSpec
from sardonyx.runtimes.local import LocalRuntime
from sardonyx.runtimes.local.runtime import default_envs_dir
from sardonyx.runtimes.progress import InMemoryStateStore
from sardonyx.storage.credentials import S3Credentials
from sardonyx.storage.seaweedfs import SeaweedFS
from sardonyx.storage.testing import project_credentials

REPO = Path(__file__).resolve().parents[3]
BUILTIN = REPO / "catalogs" / "builtin"
PROJECT = "user-alice"

ValuesFor = Callable[..., dict[str, Any]]


@pytest.fixture(scope="session")
def alice_s3(seaweedfs: SeaweedFS) -> S3Credentials:
    """The bucket ``user-alice`` and keys that can use it and nothing else (what services receive)."""
    return project_credentials(seaweedfs, PROJECT)


@pytest.fixture(scope="session")
def values_for(tmp_path_factory: pytest.TempPathFactory) -> ValuesFor:
    """``values_for(chart, s3, overrides)``: the launch values the catalog engine computes for a chart of the
    built-in catalog, from a local launch context (with ``s3`` credentials, or none) and ``overrides``
    (``{"job.args": [...]}``: values path -> typed value)."""
    catalog = CatalogService([builtin_catalog_config()], cache_dir=tmp_path_factory.mktemp("catalog-cache"))

    def compute(chart: str, s3: S3Credentials | None, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        s3_context = S3Context(**s3.launch_context()) if s3 is not None else None
        context = LaunchContext.local_default(login="alice", s3=s3_context)
        changes = [Override(path=parse_values_path(path), value=value) for path, value in (overrides or {}).items()]
        computed = catalog.compute_values(catalog.chart_version("builtin", chart), context, changes)
        return computed.values

    return compute


@pytest.fixture(scope="session")
def envs_dir() -> Path:
    """The shared environment cache (the default one: environments built by one test run serve the next)."""
    return Path(os.environ.get("SARDONYX_TEST_ENVS_DIR", str(default_envs_dir())))


@pytest.fixture
async def runtime(tmp_path: Path, envs_dir: Path) -> AsyncIterator[LocalRuntime]:
    local = LocalRuntime(InMemoryStateStore(), tmp_path / "data", envs_dir=envs_dir, monitor_interval=0.2)
    yield local
    for service_id in list(local._services):
        await local.delete(service_id)
    await local.close()


def chart_spec(
    service_id: str,
    chart: str,
    values: Mapping[str, Any],
    *,
    discovery: Mapping[str, str] | None = None,
) -> ServiceSpec:
    chart_dir = BUILTIN / chart
    chart_yaml = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
    return ServiceSpec(
        id=service_id,
        project=PROJECT,
        owner="alice",
        catalog_id="builtin",
        chart=chart,
        version=chart_yaml["version"],
        values=values,
        recipe=yaml.safe_load((chart_dir / "recipe.yaml").read_text()),
        chart_dir=str(chart_dir),
        discovery=dict(discovery or {}),
    )
