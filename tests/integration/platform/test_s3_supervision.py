"""The embedded SeaweedFS killed while the platform runs: the platform notices, says so in its health check and
`sardonyx status`, starts it again, and the data and the project identities are intact."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from sardonyx.settings import SeaweedFSPorts
from sardonyx.storage.credentials import CredentialIssuer, MemoryCredentialStore
from sardonyx.storage.seaweedfs import SeaweedFS
from tests.integration.platform.conftest import platform_env, start_platform, stop_platform

pytestmark = pytest.mark.integration


def _server(env: dict[str, str], data_dir: Path) -> SeaweedFS:
    ports = SeaweedFSPorts(
        **{name: int(env[f"SARDONYX_S3__PORTS__{name.upper()}"]) for name in SeaweedFSPorts.model_fields}
    )
    return SeaweedFS(data_dir / "seaweedfs", ports)


def test_a_killed_seaweedfs_is_reported_and_restarted_with_its_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = platform_env(data_dir) | {"SARDONYX_S3__SUPERVISE_INTERVAL_SECONDS": "0.2"}
    platform = start_platform(data_dir, env)
    try:
        server = _server(env, data_dir)
        credentials = CredentialIssuer(server.endpoint, MemoryCredentialStore()).for_project("supervised")
        client = credentials.client()
        client.put_object(Bucket=credentials.bucket, Key="kept/data.csv", Body=b"code,n\n62.01Z,40\n")
        before = json.loads((data_dir / "seaweedfs" / "weed.pid").read_text())["pid"]

        os.kill(before, signal.SIGKILL)
        health = httpx.get(f"{platform.url}/public/healthcheck", timeout=10)
        assert health.status_code == 503, health.text  # S3 answers no more: the platform is not ready
        assert health.json()["health"]["s3"] is False

        deadline = time.monotonic() + 60
        while True:
            health = httpx.get(f"{platform.url}/public/healthcheck", timeout=10)
            if health.status_code == 200:
                break
            assert time.monotonic() < deadline, health.text
            time.sleep(0.2)
        supervision = health.json()["s3Server"]
        assert supervision["state"] == "running" and supervision["restarts"] == 1
        assert supervision["lastExit"] == "was killed by signal SIGKILL"
        assert supervision["pid"] != before
        assert json.loads((data_dir / "seaweedfs" / "weed.pid").read_text())["pid"] == supervision["pid"]

        # the data and the project's identity (kept by the filer) survived
        body = client.get_object(Bucket=credentials.bucket, Key="kept/data.csv")["Body"].read()
        assert body == b"code,n\n62.01Z,40\n"
        status = platform.cli("status")
        assert status.returncode == 0, status.stdout + status.stderr
        assert "restarted once" in status.stdout and "was killed by signal SIGKILL" in status.stdout
        info = json.loads(platform.cli("status", "--json").stdout)
        assert info["s3"]["supervision"]["restarts"] == 1
        log = (data_dir / "platform.log").read_text()
        assert "was killed by signal SIGKILL; restarting it" in log and "restarted (pid" in log
    finally:
        stop_platform(platform)
    assert _server(env, data_dir).running_pid() is None  # `down` stopped the restarted server too
