"""The fake runtime honours the runtime contract (it is what the platform's unit tests run against)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest

from sardonyx.errors import BadRequest, Conflict, InvalidName, NotFound
from sardonyx.runtimes.base import ServiceSpec, ServiceStatus
from sardonyx.runtimes.fake import FakeBehaviour, FakeRuntime
from sardonyx.runtimes.progress import InMemoryStateStore

pytestmark = pytest.mark.anyio


def spec(service_id: str = "jupyter-python-1", chart: str = "jupyter-python", **extra: Any) -> ServiceSpec:
    return ServiceSpec(
        id=service_id,
        project="user-alice",
        owner="alice",
        catalog_id="builtin",
        chart=chart,
        version="1.0.0",
        values={"security": {"password": "pw"}},
        **extra,
    )


async def test_instant_service_becomes_running_with_progress_in_order() -> None:
    runtime = FakeRuntime()
    await runtime.start(spec())
    assert (await runtime.status("jupyter-python-1")).status is ServiceStatus.PENDING
    kinds = [event.kind async for event in runtime.progress("jupyter-python-1")]
    assert kinds == ["requested", "environment", "environment", "starting", "ready"]
    status = await runtime.status("jupyter-python-1")
    assert status.status is ServiceStatus.RUNNING
    assert status.urls and status.urls[0].startswith("http://127.0.0.1:")
    assert status.suspendable and not status.job
    assert [line async for line in runtime.logs("jupyter-python-1")] == ["fake service started"]


async def test_slow_service_is_starting_until_its_delay_has_passed() -> None:
    runtime = FakeRuntime(behaviours={"mlflow": FakeBehaviour.slow(0.2)})
    await runtime.start(spec("mlflow-1", "mlflow"))
    await asyncio.sleep(0.05)
    assert (await runtime.status("mlflow-1")).status is ServiceStatus.STARTING
    await runtime.settle()
    assert (await runtime.status("mlflow-1")).status is ServiceStatus.RUNNING


async def test_failing_service_reports_reason_and_message_and_ends_progress() -> None:
    runtime = FakeRuntime(default=FakeBehaviour.failing("PortInUse", "Port 8888 is already in use."))
    await runtime.start(spec())
    events = [event async for event in runtime.progress("jupyter-python-1")]
    assert events[-1].kind == "failed"
    assert events[-1].message == "Port 8888 is already in use."
    status = await runtime.status("jupyter-python-1")
    assert (status.status, status.reason) == (ServiceStatus.FAILED, "PortInUse")


async def test_never_ready_service_stays_starting() -> None:
    runtime = FakeRuntime(default=FakeBehaviour.never_ready())
    await runtime.start(spec())
    await runtime.settle()
    await asyncio.sleep(0.02)
    assert (await runtime.status("jupyter-python-1")).status is ServiceStatus.STARTING
    await runtime.delete("jupyter-python-1")
    with pytest.raises(NotFound):
        await runtime.status("jupyter-python-1")


@pytest.mark.parametrize(
    ("succeeds", "expected", "code"), [(True, ServiceStatus.SUCCEEDED, 0), (False, ServiceStatus.FAILED, 3)]
)
async def test_jobs_end_succeeded_or_failed_by_exit_code(succeeds: bool, expected: ServiceStatus, code: int) -> None:
    runtime = FakeRuntime(default=FakeBehaviour.job(succeeds=succeeds, seconds=0.05, exit_code=3))
    for n in range(3):  # many jobs at once
        await runtime.start(spec(f"python-job-{n}", "python-job"))
    await runtime.settle()
    for n in range(3):
        status = await runtime.status(f"python-job-{n}")
        assert (status.status, status.exit_code, status.job, status.suspendable) == (expected, code, True, False)
    with pytest.raises(BadRequest):
        await runtime.suspend("python-job-0")


async def test_suspend_resume_delete_cycle() -> None:
    runtime = FakeRuntime(default=FakeBehaviour.instant(stop_seconds=0.05))
    await runtime.start(spec())
    await runtime.settle()
    await runtime.suspend("jupyter-python-1")
    assert (await runtime.status("jupyter-python-1")).status is ServiceStatus.STOPPING
    await runtime.settle()
    assert (await runtime.status("jupyter-python-1")).status is ServiceStatus.SUSPENDED
    await runtime.resume("jupyter-python-1")
    assert [e.kind async for e in runtime.progress("jupyter-python-1")][-1] == "ready"
    assert (await runtime.status("jupyter-python-1")).status is ServiceStatus.RUNNING
    await asyncio.gather(runtime.delete("jupyter-python-1"), runtime.delete("jupyter-python-1"))
    with pytest.raises(NotFound):
        await runtime.delete("jupyter-python-1")
    assert runtime.store.all() == {}


async def test_conflict_unknown_and_bad_names() -> None:
    runtime = FakeRuntime(require_recipe=True)
    await runtime.start(spec(recipe={"command": ["true"]}))
    with pytest.raises(Conflict):
        await runtime.start(spec(recipe={"command": ["true"]}))
    with pytest.raises(NotFound):
        await runtime.status("nope")
    with pytest.raises(BadRequest, match="no local recipe"):
        await runtime.start(spec("other"))
    with pytest.raises(InvalidName) as info:
        await runtime.start(replace(spec("../etc"), project="x; rm -rf /"))
    assert [v.path for v in info.value.violations] == ["id", "project"]


async def test_a_new_runtime_over_the_same_store_reattaches() -> None:
    store = InMemoryStateStore()
    first = FakeRuntime(store, behaviours={"slow-1": FakeBehaviour.slow(0.3), "job-1": FakeBehaviour.job(seconds=0.3)})
    await first.start(spec("running-1"))
    await first.start(spec("slow-1"))
    await first.start(spec("job-1", "python-job"))
    await asyncio.sleep(0.2)
    await first.close()  # the platform stops; the services do not
    second = FakeRuntime(store)
    await second.restore()
    assert (await second.status("running-1")).status is ServiceStatus.RUNNING
    assert (await second.status("slow-1")).status in {ServiceStatus.PENDING, ServiceStatus.STARTING}
    await second.settle()
    assert (await second.status("slow-1")).status is ServiceStatus.RUNNING
    assert (await second.status("job-1")).status is ServiceStatus.SUCCEEDED


async def test_crash_makes_a_running_service_failed_and_logs_follow_ends() -> None:
    runtime = FakeRuntime(default=FakeBehaviour.instant(publishes={"MLFLOW_TRACKING_URI": "http://127.0.0.1:{port}"}))
    await runtime.start(spec("mlflow-1", "mlflow"))
    await runtime.settle()
    assert (await runtime.discovery("mlflow-1"))["MLFLOW_TRACKING_URI"].startswith("http://127.0.0.1:")

    async def follow() -> list[str]:
        return [line async for line in runtime.logs("mlflow-1", follow=True)]

    follower = asyncio.ensure_future(follow())
    await asyncio.sleep(0.01)
    runtime.crash("mlflow-1", exit_code=137)
    assert await asyncio.wait_for(follower, 1) == ["fake service started"]
    status = await runtime.status("mlflow-1")
    assert (status.status, status.reason, status.exit_code) == (ServiceStatus.FAILED, "ProcessExited", 137)
    assert await runtime.discovery("mlflow-1") == {}
