"""The REST API over a FakeRuntime: Onyxia's shapes, the launch flow, SSE streams, RFC 7807 errors."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sardonyx.api import create_app
from sardonyx.catalog import CatalogConfig, CatalogService
from sardonyx.platform import Platform
from sardonyx.runtimes.fake import FakeRuntime
from sardonyx.settings import Settings
from sardonyx.state import StateStore
from tests.http import platform_test_client
from tests.unit.services.conftest import BEHAVIOURS, FakeCredentials, write_chart


@pytest.fixture
def platform(tmp_path: Path) -> Platform:
    charts = tmp_path / "charts"
    for name in ("demo", "mlflow", "job", "broken"):
        write_chart(charts / name, name)
    settings = Settings(data_dir=tmp_path / "data", login="alice", status_poll_seconds=0.01)
    store = StateStore(":memory:")
    config = CatalogConfig.model_validate({"id": "test", "location": str(charts)})
    return Platform(
        settings,
        store=store,
        runtime=FakeRuntime(store, behaviours=BEHAVIOURS),
        credentials=FakeCredentials(),
        catalogs=CatalogService([config], cache_dir=tmp_path / "cache"),
    )


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with platform_test_client(create_app(platform, manage=True, keepalive_seconds=0.05), platform) as test_client:
        yield test_client


def launch(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.put("/my-lab/app", json={"catalogId": "test", "packageName": "demo", **body})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def wait_status(client: TestClient, service_id: str, status: str) -> dict[str, Any]:
    for _ in range(200):
        data: dict[str, Any] = client.get("/my-lab/app", params={"serviceId": service_id}).json()
        if data["status"] == status:
            return data
    raise AssertionError(f"{service_id} never became {status}: {data}")


def assert_problem(response: Any, status: int, reason: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["title"] and problem["detail"]
    if reason is not None:
        assert problem["type"].endswith("/" + reason)
    return problem


def test_public_endpoints(client: TestClient) -> None:
    assert client.get("/public/healthcheck").json()["status"] == "ok"
    config = client.get("/public/configuration").json()
    (region,) = config["regions"]
    assert region["services"]["namespacePrefix"] == "user-"
    assert region["sardonyx"]["runtime"] == "local"
    assert "version" in config["build"]
    catalogs = client.get("/public/catalogs").json()["catalogs"]
    assert [c["id"] for c in catalogs] == ["test"]
    assert "demo" in catalogs[0]["catalog"]["latestPackages"]
    assert client.get("/public/ip").json() == {"ip": "testclient"}


def test_user_info_has_exactly_one_personal_project(client: TestClient) -> None:
    info = client.get("/user/info").json()
    assert info["idep"] == "alice"
    assert info["projects"] == [
        {"id": "user-alice", "name": "alice personal project", "namespace": "user-alice", "vaultTopDir": "alice"}
    ]


def test_catalog_endpoints(client: TestClient) -> None:
    assert client.get("/my-lab/catalogs").json()["catalogs"][0]["id"] == "test"
    versions = client.get("/my-lab/catalogs/test/charts/demo").json()
    assert [v["version"] for v in versions] == ["1.0.0"]
    schema = client.get("/my-lab/schemas/test/charts/demo/versions/1.0.0").json()
    assert "replicas" in schema["properties"]
    assert_problem(client.get("/my-lab/catalogs/test/charts/nope"), 404, "not-found")
    assert_problem(client.get("/my-lab/catalogs/nope/charts/demo"), 404)
    assert_problem(client.get("/my-lab/schemas/test/charts/demo/versions/9.9.9"), 404)


def test_launch_list_get_and_the_service_shape(client: TestClient) -> None:
    created = launch(client, friendlyName="My demo", overrides=["replicas=2"])
    assert re.fullmatch(r"demo-\d{6}", created["id"])
    running = wait_status(client, created["id"], "running")
    assert running["friendlyName"] == "My demo"
    assert running["env"]["replicas"] == "2"
    assert running["env"]["s3.accessKeyId"] == "AK-user-alice"
    assert running["urls"] and running["urls"][0].startswith("http://127.0.0.1:")
    assert running["password"] == running["env"]["security.password"]
    (app,) = client.get("/my-lab/services").json()["apps"]
    for key in ("id", "chart", "status", "urls", "env", "tasks", "startedAt", "suspendable", "suspended",
                "friendlyName", "owner", "reason", "message"):  # fmt: skip
        assert key in app, key
    assert app["owner"] == "alice"


def test_full_onyxia_options_and_typed_overrides(client: TestClient) -> None:
    options = {"replicas": 4, "mode": "notebook", "security": {"password": "chosen"}, "s3": {"enabled": False}}
    created = launch(client, options=options, overrides={"extra.key": "v"})
    assert created["env"]["replicas"] == "4"
    assert created["env"]["security.password"] == "chosen"
    assert created["env"]["s3.enabled"] == "false"
    assert created["env"]["extra.key"] == "v"


def test_dry_run_returns_values_and_commands_and_launches_nothing(client: TestClient) -> None:
    preview = launch(client, dryRun=True, overrides=["replicas=3"])
    assert preview["values"]["replicas"] == 3
    assert preview["commands"]["sardonyx"] == "sardonyx launch demo --set replicas=3"
    assert any(line.startswith("helm install demo-") for line in preview["commands"]["helm"])
    assert client.get("/my-lab/services").json()["apps"] == []


def test_invalid_values_are_400_with_every_violation(client: TestClient) -> None:
    response = client.put(
        "/my-lab/app",
        json={"catalogId": "test", "packageName": "demo", "overrides": ["replicas=0", "mode=x", "nope=1"]},
    )
    problem = assert_problem(response, 400, "invalid-values")
    assert sorted(v["path"] for v in problem["violations"]) == ["mode", "nope", "replicas"]
    assert client.get("/my-lab/services").json()["apps"] == []


def test_bad_requests(client: TestClient) -> None:
    assert_problem(client.put("/my-lab/app", json={"catalogId": "test", "packageName": "nope"}), 404, "not-found")
    problem = assert_problem(client.put("/my-lab/app", json={"catalogId": "test"}), 400, "bad-request")
    assert [v["path"] for v in problem["violations"]] == ["packageName"]
    for name in ("../../etc", "a;reboot", "A"):
        response = client.put("/my-lab/app", json={"catalogId": "test", "packageName": "demo", "name": name})
        assert_problem(response, 400, "invalid-name")
    assert_problem(client.delete("/my-lab/app", params={"path": "nope-000000"}), 404, "not-found")
    assert_problem(client.delete("/my-lab/app"), 400)
    assert_problem(client.get("/my-lab/app", params={"serviceId": "nope"}), 404)
    assert_problem(client.get("/my-lab/services", headers={"ONYXIA-PROJECT": "projet-x"}), 403, "forbidden")
    assert_problem(client.get("/my-lab/quota"), 403)
    assert_problem(client.get("/no/such/route"), 404)


def test_suspend_resume_rename_logs_delete(client: TestClient) -> None:
    service_id = launch(client)["id"]
    wait_status(client, service_id, "running")
    assert client.post("/my-lab/app/suspend", json={"serviceID": service_id}).status_code == 200
    suspended = wait_status(client, service_id, "suspended")
    assert suspended["suspended"] is True
    assert client.post("/my-lab/app/resume", json={"serviceID": service_id}).status_code == 200
    wait_status(client, service_id, "running")
    renamed = client.post("/my-lab/app/rename", json={"serviceID": service_id, "friendlyName": "Renamed"}).json()
    assert renamed["friendlyName"] == "Renamed"
    assert client.post("/my-lab/app/share", json={"serviceID": service_id, "share": True}).json()["share"] is True
    text = client.get("/my-lab/app/logs", params={"serviceId": service_id, "taskId": "x"})
    assert text.headers["content-type"].startswith("text/plain")
    assert text.text == "fake service started\n" * 2  # once per start: launch, resume
    assert client.delete("/my-lab/app", params={"path": service_id}).json() == {"path": service_id, "success": True}
    assert client.get("/my-lab/services").json()["apps"] == []


def test_a_job_cannot_be_suspended(client: TestClient) -> None:
    job = launch(client, packageName="job")
    assert_problem(client.post("/my-lab/app/suspend", json={"serviceID": job["id"]}), 400)
    assert wait_status(client, job["id"], "succeeded")["job"] is True


def test_failed_services_stay_listed_and_bulk_delete_removes_all(client: TestClient) -> None:
    broken = launch(client, packageName="broken")
    failed = wait_status(client, broken["id"], "failed")
    assert failed["reason"] == "EnvironmentBuildFailed"
    assert failed["helmStatus"] == "failed"
    launch(client)
    response = client.delete("/my-lab/app", params={"bulk": "true"}).json()
    assert len(response["deleted"]) == 2
    assert client.get("/my-lab/services").json()["apps"] == []


def sse_frames(lines: Iterator[str], count: int) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    for line in lines:
        if line.startswith("data: "):
            frames.append(json.loads(line[len("data: ") :]))
            if len(frames) == count:
                break
    return frames


def test_progress_stream_ends_after_ready(client: TestClient) -> None:
    service_id = launch(client)["id"]
    with client.stream("GET", f"/services/{service_id}/progress") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        frames = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: ")]
    assert frames[0]["kind"] == "requested"
    assert frames[-1]["kind"] == "ready" and frames[-1]["ready"] is True
    assert_problem(client.get("/services/nope/progress"), 404)


def test_events_stream_replays_history_as_kubernetes_events(client: TestClient) -> None:
    service_id = launch(client)["id"]
    wait_status(client, service_id, "running")
    store = client.app.state.platform.store  # type: ignore[attr-defined]
    history = [t.status for t in store.transitions(service_id=service_id)]
    with client.stream("GET", "/my-lab/events") as response:
        frames = sse_frames(response.iter_lines(), len(history))
    assert [f["involvedObject"]["name"] for f in frames] == [service_id] * len(history)
    # pending, then running (a busy machine may let the watcher see `starting` in between: it is replayed too)
    assert [f["sardonyx"]["status"] for f in frames] == history
    assert history[0] == "pending" and history[-1] == "running" and set(history) <= {"pending", "starting", "running"}
    assert frames[0]["kind"] == "Event" and frames[0]["metadata"]["uid"]


def test_openapi_is_published(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/my-lab/app", "/my-lab/services", "/public/configuration", "/services/{serviceId}/progress"):
        assert path in paths


def test_unexpected_errors_are_500_problems(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(platform.manager, "list_services", broken)
    with platform_test_client(
        create_app(platform, manage=True), platform, raise_server_exceptions=False
    ) as test_client:
        problem = assert_problem(test_client.get("/my-lab/services"), 500, "internal-error")
    assert "secret" not in json.dumps(problem)
