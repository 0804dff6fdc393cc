"""Helpers for runtime tests: specs built by hand (the catalog engine is not involved here)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from sardonyx.runtimes.base import ServiceSpec, ServiceStatus
from sardonyx.runtimes.local import LocalRuntime
from sardonyx.runtimes.progress import InMemoryStateStore

PY = sys.executable


def make_spec(
    service_id: str,
    recipe: Mapping[str, Any] | None,
    values: Mapping[str, Any] | None = None,
    *,
    chart: str = "test-chart",
    project: str = "user-alice",
    **extra: Any,
) -> ServiceSpec:
    return ServiceSpec(
        id=service_id,
        project=project,
        owner="alice",
        catalog_id="builtin",
        chart=chart,
        version="1.0.0",
        values=dict(values or {}),
        recipe=recipe,
        **extra,
    )


def http_server_recipe(**overrides: Any) -> dict[str, Any]:
    """A long-running service from the system's Python: an HTTP server on the allocated port."""
    recipe: dict[str, Any] = {
        "command": [PY, "-m", "http.server", "--bind", "127.0.0.1", "{{ ports.http }}"],
        "ports": [{"name": "http"}],
        "readiness": {"http": {"path": "/"}, "timeout_seconds": 20},
        "stop_grace_seconds": 2,
    }
    recipe.update(overrides)
    return recipe


def job_recipe(code: str, **overrides: Any) -> dict[str, Any]:
    recipe: dict[str, Any] = {"kind": "job", "command": [PY, "-c", code]}
    recipe.update(overrides)
    return recipe


async def wait_for(
    runtime: LocalRuntime, service_id: str, *statuses: ServiceStatus, timeout: float = 20
) -> ServiceStatus:
    """Poll until the service reaches one of ``statuses``; fail the test on timeout."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        status = (await runtime.status(service_id)).status
        if status in statuses:
            return status
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"{service_id} stayed {status.value}, expected one of {[s.value for s in statuses]}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def local_runtime(tmp_path: Path) -> AsyncIterator[LocalRuntime]:
    runtime = LocalRuntime(InMemoryStateStore(), tmp_path / "data", envs_dir=tmp_path / "envs", monitor_interval=0.1)
    yield runtime
    for service_id in list(runtime._services):
        await runtime.delete(service_id)
    await runtime.close()
