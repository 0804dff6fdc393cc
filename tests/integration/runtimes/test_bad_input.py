"""Bad input through the real charts: an uninstallable requirement, a taken port, hostile names."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from sardonyx.errors import InvalidName
from sardonyx.runtimes.base import ServiceStatus
from sardonyx.runtimes.local import LocalRuntime
from tests.integration.runtimes.conftest import ValuesFor, chart_spec

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


async def test_an_uninstallable_requirement_fails_with_the_installers_message(
    runtime: LocalRuntime, envs_dir: Path, values_for: ValuesFor
) -> None:
    before = set(envs_dir.iterdir()) if envs_dir.exists() else set()
    values = values_for(
        "python-job",
        None,
        {"environment.requirements": ["sardonyx-no-such-package-xyz==1.0"], "job.command": ["python", "-V"]},
    )
    await runtime.start(chart_spec("python-job-1", "python-job", values))
    events = [e async for e in runtime.progress("python-job-1")]
    status = await runtime.status("python-job-1")
    assert (status.status, status.reason) == (ServiceStatus.FAILED, "EnvironmentBuildFailed")
    assert "sardonyx-no-such-package-xyz" in (status.message or "") and "No solution found" in (status.message or "")
    assert events[-1].kind == "failed" and any(e.kind == "environment" for e in events)
    assert status.tasks and not (Path(runtime._services["python-job-1"].state_dir) / "process.json").exists()
    logs = [line async for line in runtime.logs("python-job-1")]
    assert any("No solution found" in line for line in logs)
    after = {p for p in envs_dir.iterdir() if not p.name.startswith(".locks")}
    assert {p for p in after - before if not (p / ".sardonyx-env.json").exists()} == set()  # nothing half-built


async def test_a_taken_port_fails_clearly(runtime: LocalRuntime, values_for: ValuesFor) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        values = values_for("jupyter-python", None, {"networking.port": port})
        await runtime.start(chart_spec("jupyter-python-1", "jupyter-python", values))
        events = [e async for e in runtime.progress("jupyter-python-1")]
    status = await runtime.status("jupyter-python-1")
    assert (status.status, status.reason) == (ServiceStatus.FAILED, "PortInUse")
    assert f"Port {port}" in (status.message or "") and events[-1].kind == "failed"


@pytest.mark.parametrize(
    ("service_id", "project"), [("jupyter;rm -rf /", "user-alice"), ("ok-1", "../../../tmp"), ("$(id)", "user-alice")]
)
async def test_hostile_names_are_rejected(
    runtime: LocalRuntime, values_for: ValuesFor, service_id: str, project: str
) -> None:
    spec = chart_spec("placeholder", "jupyter-python", values_for("jupyter-python", None))
    from dataclasses import replace

    with pytest.raises(InvalidName):
        await runtime.start(replace(spec, id=service_id, project=project))
    assert not (runtime.data_dir / "services").exists()
