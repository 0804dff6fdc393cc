"""`sardonyx up/down/status` for real, and bad input answered clearly end to end (CLI and REST)."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from pathlib import Path

import httpx
import psutil
import pytest

from sardonyx.auth import auth_headers
from sardonyx.errors import InvalidName, InvalidValues, NotFound
from tests.integration.platform.conftest import RunningPlatform, platform_env, start_platform, stop_platform

pytestmark = pytest.mark.integration


def test_up_twice_keeps_one_platform_and_status_tells(platform: RunningPlatform) -> None:
    state = json.loads((platform.data_dir / "platform.json").read_text())
    again = platform.cli("up")
    assert again.returncode == 0
    assert f"already running at {platform.url} (pid {state['pid']})" in again.stdout
    status = platform.cli("status")
    assert status.returncode == 0, status.stderr
    assert f"is up at {platform.url}" in status.stdout
    assert "embedded SeaweedFS" in status.stdout
    info = json.loads(platform.cli("status", "--json").stdout)
    assert info["running"] is True and info["pid"] == state["pid"] and info["project"] == "user-tester"
    daemons = []
    for process in psutil.process_iter(["cmdline"]):
        if (process.info["cmdline"] or [])[-2:] == ["-m", "sardonyx.daemon"]:
            with contextlib.suppress(psutil.Error):
                if process.environ().get("SARDONYX_DATA_DIR") == str(platform.data_dir):
                    daemons.append(process.pid)
    assert daemons == [state["pid"]]


def test_every_port_of_the_platform_is_on_loopback(platform: RunningPlatform) -> None:
    state = json.loads((platform.data_dir / "platform.json").read_text())
    pids = {state["pid"], *[c.pid for c in psutil.Process(state["pid"]).children(recursive=True)]}
    pids.add(json.loads((platform.data_dir / "seaweedfs" / "weed.pid").read_text())["pid"])
    listening = {
        (c.laddr.ip, c.laddr.port)
        for pid in pids
        for c in psutil.Process(pid).net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    }
    assert {ip for ip, _ in listening} == {"127.0.0.1"}
    assert 8888 not in {port for _, port in listening}
    assert int(platform.env["SARDONYX_PORT"]) in {port for _, port in listening}


def test_a_taken_api_port_or_s3_port_is_a_clear_error(platform: RunningPlatform, tmp_path: Path) -> None:
    other = platform_env(tmp_path / "api-port")
    other["SARDONYX_PORT"] = platform.env["SARDONYX_PORT"]
    result = RunningPlatform(other, tmp_path / "api-port").cli("up")
    assert result.returncode == 1
    assert f"port {platform.env['SARDONYX_PORT']} is already in use" in result.stderr
    assert "Traceback" not in result.stderr

    env = platform_env(tmp_path / "s3-port")
    blocked = int(env["SARDONYX_S3__PORTS__FILER"])
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", blocked))
        blocker.listen()
        result = RunningPlatform(env, tmp_path / "s3-port").cli("up")
    assert result.returncode == 1
    assert f"port {blocked} already in use" in result.stderr
    assert "s3.ports.filer" in result.stderr
    assert RunningPlatform(env, tmp_path / "s3-port").cli("status").returncode == 1


def test_down_stops_the_platform_and_its_s3_then_up_again(tmp_path: Path) -> None:
    running = start_platform(tmp_path / "cycle")
    weed = json.loads((running.data_dir / "seaweedfs" / "weed.pid").read_text())["pid"]
    pid = json.loads((running.data_dir / "platform.json").read_text())["pid"]
    stop_platform(running)
    assert running.cli("status").returncode == 1
    for process in (pid, weed):
        assert not psutil.pid_exists(process) or psutil.Process(process).status() == psutil.STATUS_ZOMBIE
    assert "is not running" in running.cli("down").stdout
    begin = time.perf_counter()
    again = start_platform(running.data_dir, running.env)
    assert time.perf_counter() - begin < 30
    stop_platform(again)


def test_unknown_chart_and_invalid_values(platform: RunningPlatform) -> None:
    result = platform.cli("launch", "no-such-chart")
    assert result.returncode == 1
    assert "no chart 'no-such-chart'" in result.stderr and "Traceback" not in result.stderr
    with platform.client() as client, pytest.raises(NotFound):
        client.launch("no-such-chart", catalog_id="builtin")
    with platform.client() as client, pytest.raises(InvalidValues) as caught:
        client.launch("jupyter-python", set_options=["networking.port=-1", "jupyter.defaultPath=no-slash"])
    assert sorted(v.path for v in caught.value.violations) == ["jupyter.defaultPath", "networking.port"]
    response = httpx.put(
        f"{platform.url}/my-lab/app",
        headers=auth_headers(platform.data_dir),
        json={"packageName": "jupyter-python", "overrides": ["networking.port=x"]},
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["violations"][0]["path"] == "networking.port"
    result = platform.cli("launch", "jupyter-python", "--set", "networking.port=-1")
    assert result.returncode == 1 and "networking.port: must be >= 0" in result.stderr


@pytest.mark.parametrize("name", ["../../etc/passwd", "x;rm -rf ~", "$(touch pwned)", "UPPER", "a b", "a" * 60])
def test_names_that_try_to_inject_are_rejected(platform: RunningPlatform, name: str) -> None:
    with platform.client() as client, pytest.raises(InvalidName):
        client.launch("python-job", name=name)
    assert not (platform.data_dir / "pwned").exists()


def test_deleting_an_unknown_service(platform: RunningPlatform) -> None:
    response = httpx.delete(
        f"{platform.url}/my-lab/app", params={"path": "nope-123456"}, headers=auth_headers(platform.data_dir)
    )
    assert response.status_code == 404
    assert response.json()["type"].endswith("/not-found")
    result = platform.cli("delete", "nope-123456")
    assert result.returncode == 1 and "no service 'nope-123456'" in result.stderr


@pytest.mark.slow
def test_a_requirement_that_cannot_be_installed_fails_with_the_installers_message(platform: RunningPlatform) -> None:
    result = platform.cli(
        "launch", "python-job", "--name", "uninstallable",
        "--set", 'environment.requirements=["sardonyx-no-such-package-7f3a==1.0"]',
        "--set", 'job.command=["python", "-c", "print(1)"]',
    )  # fmt: skip
    assert result.returncode == 1, result.stdout
    with platform.client() as client:
        (service,) = [a for a in client.services() if a["friendlyName"] == "uninstallable"]
        assert service["status"] == "failed"
        assert service["reason"] == "EnvironmentBuildFailed"
        assert "sardonyx-no-such-package-7f3a" in service["message"]
        assert "sardonyx-no-such-package-7f3a" in result.stdout
        service_dir = platform.data_dir / "services" / "user-tester" / service["id"]
        assert not (service_dir / ".sardonyx" / "process.json").exists()  # nothing was started
        client.delete(service["id"])
