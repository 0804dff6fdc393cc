"""The service layer on a FakeRuntime: the launch flow, statuses, actions, restarts, events, bad input."""

from __future__ import annotations

import asyncio
import re

import pytest

from sardonyx.errors import BadRequest, Conflict, Forbidden, InvalidName, InvalidValues, NotFound
from sardonyx.identity import Project, User
from sardonyx.runtimes.base import ServiceStatus
from sardonyx.services import LaunchRequest, ServiceEvent
from tests.unit.services.conftest import Harness

pytestmark = pytest.mark.anyio


async def test_launch_computes_values_with_s3_and_password_and_runs(harness: Harness) -> None:
    view = await harness.manager.launch(harness.user, LaunchRequest(chart="demo", friendly_name="My lab"))
    assert re.fullmatch(r"demo-\d{6}", view.id)
    assert view.project == "user-alice"
    assert view.owner == "alice"
    assert view.friendly_name == "My lab"
    assert view.values["s3"]["accessKeyId"] == "AK-user-alice"
    assert view.values["s3"]["endpoint"] == "http://127.0.0.1:8430"
    assert view.values["s3"]["bucket"] == "user-alice"
    password = view.values["security"]["password"]
    assert password != "changeme" and len(password) == 24
    assert view.password == password
    assert harness.credentials.issued == ["user-alice"]
    await harness.runtime.settle()
    running = await harness.manager.get(harness.user, view.id)
    assert running.status is ServiceStatus.RUNNING
    assert running.url is not None
    spec = harness.store.load(view.id)
    assert spec is not None
    assert spec["spec"]["values"]["fromValuesYaml"] == "kept"  # the runtime gets values.yaml merged in
    assert spec["spec"]["recipe"]["command"][0] == "python"
    assert [t.status for t in harness.store.transitions(service_id=view.id)] == ["pending", "running"]


async def test_onyxia_shape_of_a_service(harness: Harness) -> None:
    view = await harness.manager.launch(harness.user, LaunchRequest(chart="demo"))
    await harness.runtime.settle()
    data = (await harness.manager.get(harness.user, view.id)).as_onyxia()
    for key in ("id", "chart", "status", "urls", "env", "tasks", "startedAt", "suspendable", "suspended",
                "friendlyName", "owner", "catalogId", "namespace", "reason", "message"):  # fmt: skip
        assert key in data
    assert data["chart"] == "demo-1.0.0"
    assert data["status"] == "running"
    assert data["helmStatus"] == "deployed"
    assert data["env"]["s3.accessKeyId"] == "AK-user-alice"
    assert data["env"]["s3.enabled"] == "true"
    assert data["tasks"][0]["containers"][0]["ready"] is True
    assert data["suspendable"] is True
    assert isinstance(data["startedAt"], int)


async def test_options_and_overrides_are_merged_then_validated(harness: Harness) -> None:
    request = LaunchRequest(
        chart="demo",
        options={"mode": "notebook", "extra": {"a": 1}},
        set_options=["replicas=3"],
        overrides={"extra.b": [1, 2]},
    )
    view = await harness.manager.launch(harness.user, request)
    assert view.values["mode"] == "notebook"
    assert view.values["replicas"] == 3
    assert view.values["extra"] == {"a": 1, "b": [1, 2]}
    assert view.values["s3"]["accessKeyId"] == "AK-user-alice"  # partial options keep the computed defaults


async def test_invalid_values_report_every_violation_and_launch_nothing(harness: Harness) -> None:
    request = LaunchRequest(chart="demo", set_options=["replicas=0", "mode=console", "nope.deep=1"])
    with pytest.raises(InvalidValues) as caught:
        await harness.manager.launch(harness.user, request)
    assert caught.value.status == 400
    paths = sorted(v.path for v in caught.value.violations)
    assert paths == ["mode", "nope.deep", "replicas"]
    assert harness.store.list_services() == []
    assert harness.runtime.calls == []


async def test_unknown_chart_catalog_and_version_are_404(harness: Harness) -> None:
    for request in (
        LaunchRequest(chart="nope"),
        LaunchRequest(chart="demo", catalog_id="nope"),
        LaunchRequest(chart="demo", version="9.9.9"),
    ):
        with pytest.raises(NotFound):
            await harness.manager.launch(harness.user, request)


@pytest.mark.parametrize(
    "name", ["../etc", "a;rm -rf ~", "$(reboot)", "Upper", "a b", "x" * 54, "-lead", "trail-", "a/b", ""]
)
async def test_names_that_could_inject_are_rejected(harness: Harness, name: str) -> None:
    request = LaunchRequest(chart="demo", name=name or None)
    if not name:
        assert re.fullmatch(r"demo-\d{6}", (await harness.manager.launch(harness.user, request)).id)
        return
    with pytest.raises(InvalidName):
        await harness.manager.launch(harness.user, request)
    assert harness.store.list_services() == []


async def test_a_taken_name_is_a_conflict(harness: Harness) -> None:
    await harness.manager.launch(harness.user, LaunchRequest(chart="demo", name="my-lab"))
    with pytest.raises(Conflict):
        await harness.manager.launch(harness.user, LaunchRequest(chart="demo", name="my-lab"))


async def test_a_refused_start_leaves_nothing(harness: Harness) -> None:
    harness = harness.restart(require_recipe=True)
    with pytest.raises(BadRequest, match="no local recipe"):
        await harness.manager.launch(harness.user, LaunchRequest(chart="norecipe"))
    assert harness.store.list_services() == []


async def test_failed_start_stays_listed_with_its_reason_and_is_deletable(harness: Harness) -> None:
    view = await harness.manager.launch(harness.user, LaunchRequest(chart="broken"))
    await harness.runtime.settle()
    (listed,) = await harness.manager.list_services(harness.user)
    assert listed.status is ServiceStatus.FAILED
    assert listed.reason == "EnvironmentBuildFailed"
    assert "nope" in (listed.message or "")
    assert listed.as_onyxia()["helmStatus"] == "failed"
    await harness.manager.delete(harness.user, view.id)
    assert await harness.manager.list_services(harness.user) == []


async def test_sibling_discovery_reaches_later_launches(harness: Harness) -> None:
    first = await harness.manager.launch(harness.user, LaunchRequest(chart="demo"))
    mlflow = await harness.manager.launch(harness.user, LaunchRequest(chart="mlflow"))
    await harness.runtime.settle()
    await harness.manager.refresh()
    job = await harness.manager.launch(harness.user, LaunchRequest(chart="job"))
    job_state = harness.store.load(job.id)
    first_state = harness.store.load(first.id)
    assert job_state is not None and first_state is not None
    port = harness.store.load(mlflow.id)["port"]  # type: ignore[index]
    assert job_state["spec"]["discovery"] == {"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}"}
    assert first_state["spec"]["discovery"] == {}


async def test_jobs_run_to_completion_and_cannot_be_suspended(harness: Harness) -> None:
    job = await harness.manager.launch(harness.user, LaunchRequest(chart="job"))
    with pytest.raises(BadRequest, match="cannot be suspended"):
        await harness.manager.suspend(harness.user, job.id)
    await harness.runtime.settle()
    done = await harness.manager.get(harness.user, job.id)
    assert done.status is ServiceStatus.SUCCEEDED
    assert done.job and not done.suspendable
    assert done.exit_code == 0


async def test_suspend_resume_rename_share(harness: Harness) -> None:
    view = await harness.manager.launch(harness.user, LaunchRequest(chart="demo"))
    await harness.runtime.settle()
    await harness.manager.suspend(harness.user, view.id)
    await harness.runtime.settle()
    suspended = await harness.manager.get(harness.user, view.id)
    assert suspended.status is ServiceStatus.SUSPENDED and suspended.suspended
    assert suspended.urls == ()
    await harness.manager.resume(harness.user, view.id)
    await harness.runtime.settle()
    assert (await harness.manager.get(harness.user, view.id)).status is ServiceStatus.RUNNING
    renamed = await harness.manager.rename(harness.user, view.id, "  Renamed  ")
    assert renamed.friendly_name == "Renamed"
    with pytest.raises(BadRequest):
        await harness.manager.rename(harness.user, view.id, "bad\nname")
    assert (await harness.manager.share(harness.user, view.id, True)).share is True


async def test_unknown_and_foreign_services_are_not_found(harness: Harness) -> None:
    view = await harness.manager.launch(harness.user, LaunchRequest(chart="demo"))
    bob = User(idep="bob", name="bob", email="bob@localhost", projects=(Project("user-bob", "bob"),))
    for action in (
        harness.manager.get(bob, view.id),
        harness.manager.delete(bob, view.id),
        harness.manager.suspend(bob, view.id),
        harness.manager.delete(harness.user, "nope-123456"),
        harness.manager.logs(harness.user, "nope-123456"),
    ):
        with pytest.raises(NotFound):
            await action
    with pytest.raises(Forbidden):
        await harness.manager.list_services(harness.user, "user-bob")


async def test_restart_keeps_services_and_reports_crashes(harness: Harness) -> None:
    running = await harness.manager.launch(harness.user, LaunchRequest(chart="demo"))
    crashed = await harness.manager.launch(harness.user, LaunchRequest(chart="demo"))
    await harness.runtime.settle()
    await harness.manager.refresh()
    await harness.manager.close()

    restarted = harness.restart()
    await restarted.manager.start(watch=False)
    assert (await restarted.manager.get(harness.user, running.id)).status is ServiceStatus.RUNNING
    restarted.runtime.crash(crashed.id, exit_code=137)
    view = await restarted.manager.get(harness.user, crashed.id)
    assert view.status is ServiceStatus.FAILED
    assert view.reason == "ProcessExited"
    assert "137" in (view.message or "")
    assert view.exit_code == 137
    await restarted.manager.close()


async def test_a_service_the_runtime_lost_is_failed_and_deletable(harness: Harness) -> None:
    view = await harness.manager.launch(harness.user, LaunchRequest(chart="demo"))
    await harness.runtime.settle()
    harness.store.delete(view.id)  # the runtime's state is gone
    restarted = harness.restart()
    await restarted.manager.start(watch=False)
    lost = await restarted.manager.get(harness.user, view.id)
    assert (lost.status, lost.reason) == (ServiceStatus.FAILED, "Lost")
    await restarted.manager.delete(harness.user, view.id)
    assert restarted.store.list_services() == []


async def test_the_watcher_records_transitions_and_events_stream_them(harness: Harness) -> None:
    await harness.manager.start()
    stream = await harness.manager.events(harness.user)
    received: list[ServiceEvent] = []

    async def collect() -> None:
        async for event in stream:
            received.append(event)
            if event.status == "deleted":
                return

    collector = asyncio.ensure_future(collect())
    view = await harness.manager.launch(harness.user, LaunchRequest(chart="demo"))
    await harness.runtime.settle()
    for _ in range(100):
        if any(e.status == "running" for e in received):
            break
        await asyncio.sleep(0.01)
    await harness.manager.delete(harness.user, view.id)
    await asyncio.wait_for(collector, 2)
    assert [e.status for e in received] == ["pending", "running", "deleting", "deleted"]
    assert [e.seq for e in received] == sorted(e.seq for e in received)
    k8s = received[0].as_kubernetes_event()
    assert k8s["kind"] == "Event" and k8s["involvedObject"]["name"] == view.id
    assert k8s["metadata"]["namespace"] == "user-alice"
    await harness.manager.close()


async def test_event_history_is_replayed_to_new_listeners(harness: Harness) -> None:
    view = await harness.manager.launch(harness.user, LaunchRequest(chart="broken"))
    await harness.runtime.settle()
    await harness.manager.refresh()
    stream = await harness.manager.events(harness.user)
    first = await anext(stream)
    second = await anext(stream)
    assert (first.service_id, first.status, second.status) == (view.id, "pending", "failed")
    assert second.type == "Warning"
    await stream.aclose()  # type: ignore[attr-defined]


async def test_progress_and_logs(harness: Harness) -> None:
    view = await harness.manager.launch(harness.user, LaunchRequest(chart="demo"))
    events = [e.kind async for e in await harness.manager.progress(harness.user, view.id)]
    assert events[0] == "requested" and events[-1] == "ready"
    lines = [line async for line in await harness.manager.logs(harness.user, view.id)]
    assert lines == ["fake service started"]


async def test_preview_issues_nothing_and_gives_equivalent_commands(harness: Harness) -> None:
    preview = await harness.manager.preview(harness.user, LaunchRequest(chart="demo", set_options=["replicas=2"]))
    assert harness.credentials.issued == []
    assert preview.values["s3"]["accessKeyId"] == "<AWS_ACCESS_KEY_ID>"
    assert preview.values["replicas"] == 2
    assert any(line.startswith("helm install demo-") for line in preview.helm_commands)
    assert preview.sardonyx_command == "sardonyx launch demo --set replicas=2"
    assert harness.store.list_services() == []


async def test_deleting_twice_is_idempotent_then_not_found(harness: Harness) -> None:
    view = await harness.manager.launch(harness.user, LaunchRequest(chart="demo"))
    await harness.runtime.settle()
    await asyncio.gather(harness.manager.delete(harness.user, view.id), harness.manager.delete(harness.user, view.id))
    with pytest.raises(NotFound):
        await harness.manager.delete(harness.user, view.id)


async def test_project_password_is_stable(harness: Harness) -> None:
    user = harness.user
    context_a = harness.manager.launch_context(user, user.personal_project, None, "1")
    context_b = harness.manager.launch_context(user, user.personal_project, None, "2")
    assert context_a.project.password == context_b.project.password
    assert context_a.service.oneTimePassword != context_b.service.oneTimePassword
    assert context_a.s3 is None


async def test_a_launcher_session_gives_its_one_time_password_and_subdomain(harness: Harness) -> None:
    session = LaunchRequest(chart="demo", one_time_password="Shown4TheForm0123456789x", random_subdomain="4242")
    view = await harness.manager.launch(harness.user, session)
    assert view.values["security"]["password"] == "Shown4TheForm0123456789x"
    assert view.id == "demo-4242"  # Onyxia's release name: <chart>-<k8s.randomSubdomain>
    assert "Shown4TheForm" not in repr(session)
    # the same session again: the id is taken, a new one is drawn; the context keeps the session's values
    again = await harness.manager.launch(harness.user, session)
    assert re.fullmatch(r"demo-\d{6}", again.id) and again.values["security"]["password"] == "Shown4TheForm0123456789x"
    preview = await harness.manager.preview(harness.user, LaunchRequest(chart="demo", random_subdomain="77"))
    assert preview.service_id == "demo-77"


async def test_a_malformed_launcher_session_is_refused_without_echoing_it(harness: Harness) -> None:
    request = LaunchRequest(chart="demo", one_time_password="short; rm -rf /", random_subdomain="12345678")
    with pytest.raises(BadRequest) as caught:
        await harness.manager.launch(harness.user, request)
    assert {v.path for v in caught.value.violations} == {"oneTimePassword", "randomSubdomain"}
    assert "rm -rf" not in str(caught.value.to_problem())
    assert harness.store.list_services() == []
