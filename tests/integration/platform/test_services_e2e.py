"""Launching the built-in charts through the running platform, end to end: JupyterLab with S3, MLflow then a
job that logs a run to it, a model API; and a platform restart with services running."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from sardonyx.storage import BucketBrowser, S3Credentials
from tests.integration.platform.conftest import PROJECT, RunningPlatform
from tests.integration.runtimes.test_jupyter import execute

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KERNEL_CODE = """
import os, pandas as pd, s3fs
fs = s3fs.S3FileSystem()  # endpoint and keys from the injected environment only
path = "user-tester/e2e/codes.parquet"
with fs.open(path, "wb") as handle:
    pd.DataFrame({"code": ["1071C", "6201Z"], "n": [1, 2]}).to_parquet(handle)
back = pd.read_parquet("s3://" + path)
print("RESULT", len(back), int(back.n.sum()), sorted(k for k in os.environ if k.startswith("SARDONYX")))
"""

JOB_SCRIPT = """
import os, mlflow
mlflow.set_experiment("e2e")
with mlflow.start_run() as run:
    mlflow.log_param("dim", 20)
    mlflow.log_metric("accuracy", 0.91)
    with open("report.txt", "w") as handle:
        handle.write("accuracy 0.91\\n")
    mlflow.log_artifact("report.txt")
print("RUN", run.info.run_id, os.environ["MLFLOW_TRACKING_URI"])
"""

API_CODE = """
from fastapi import FastAPI
app = FastAPI()

@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
"""


def credentials_of(service: dict[str, Any]) -> S3Credentials:
    """The project's S3 credentials, as the service received them."""
    env = service["env"]
    return S3Credentials(env["s3.accessKeyId"], env["s3.secretAccessKey"], env["s3.endpoint"], PROJECT)


def test_jupyter_answers_with_its_password_and_a_kernel_uses_the_project_bucket(platform: RunningPlatform) -> None:
    result = platform.cli("launch", "jupyter-python", "--name", "e2e-lab")
    assert result.returncode == 0, result.stdout + result.stderr
    url = re.search(r"URL:\s+(\S+)", result.stdout)
    password = re.search(r"Password:\s+(\S+)", result.stdout)
    assert url and password, result.stdout
    base = url.group(1).removesuffix("/lab")
    ok = httpx.get(f"{base}/api/status", headers={"Authorization": f"token {password.group(1)}"})
    assert ok.status_code == 200
    assert httpx.get(f"{base}/api/status").status_code == 403
    output = asyncio.run(execute(base, password.group(1), KERNEL_CODE))
    assert "RESULT 2 3 []" in output, output
    with platform.client() as client:
        service = client.resolve("e2e-lab")
    listing = BucketBrowser(credentials_of(service)).list("e2e")
    assert [o.name for o in listing.objects] == ["codes.parquet"]
    services = platform.cli("services")
    assert "e2e-lab" in services.stdout and "running" in services.stdout
    assert platform.cli("delete", "e2e-lab").returncode == 0


def test_mlflow_then_a_job_logging_a_run_then_an_api(platform: RunningPlatform) -> None:
    with platform.client() as client:
        mlflow = client.launch("mlflow", friendly_name="tracking")
        mlflow = client.wait(mlflow["id"], timeout=900)
        assert mlflow["status"] == "running", mlflow["message"]
        tracking = mlflow["urls"][0].rstrip("/")

        job = client.launch(
            "python-job",
            overrides={"environment.requirements": ["mlflow-skinny>=3.17,<4"], "job.script": JOB_SCRIPT},
        )
        job = client.wait(job["id"], {"succeeded", "failed"}, timeout=900)
        log = client.logs(job["id"])
        assert job["status"] == "succeeded", log[-3000:]
        run_line = next(line for line in log.splitlines() if line.startswith("RUN "))
        _, run_id, seen_uri = run_line.split()
        assert seen_uri == tracking  # sibling discovery: the job was given the running MLflow

        run = httpx.get(f"{tracking}/api/2.0/mlflow/runs/get", params={"run_id": run_id}).json()["run"]
        assert run["info"]["status"] == "FINISHED"
        assert {m["key"]: m["value"] for m in run["data"]["metrics"]} == {"accuracy": 0.91}
        objects = BucketBrowser(credentials_of(mlflow)).list(recursive=True).objects
        assert any(o.key.endswith(f"{run_id}/artifacts/report.txt") for o in objects), [o.key for o in objects]

        api = client.launch("python-api", overrides={"api.code": API_CODE})
        api = client.wait(api["id"], timeout=900)
        assert api["status"] == "running", api["message"]
        health = httpx.get(api["urls"][0].removesuffix("/docs") + "/health")
        assert (health.status_code, health.json()) == (200, {"status": "ok"})
        for service in (api, job, mlflow):
            client.delete(service["id"])


def test_restart_with_services_running(platform: RunningPlatform) -> None:
    sleeper = {"job.command": ["python", "-c", "import time; time.sleep(600)"]}
    with platform.client() as client:
        kept = client.wait(client.launch("python-job", friendly_name="kept", overrides=sleeper)["id"])
        killed = client.wait(client.launch("python-job", friendly_name="killed", overrides=sleeper)["id"])
        assert kept["status"] == killed["status"] == "running"
    kept_pid, killed_pid = platform.service_pid(kept["id"]), platform.service_pid(killed["id"])

    assert platform.cli("down").returncode == 0
    os.kill(killed_pid, signal.SIGKILL)
    os.kill(kept_pid, 0)  # still alive while the platform is down
    begin = time.perf_counter()
    result = platform.cli("up")
    assert result.returncode == 0, result.stderr
    with platform.client() as client:
        statuses = {app["friendlyName"]: app for app in client.services()}
    assert time.perf_counter() - begin < 30
    assert statuses["kept"]["status"] == "running"
    assert (statuses["killed"]["status"], statuses["killed"]["reason"]) == ("failed", "ProcessExited")
    assert "SIGKILL" in statuses["killed"]["message"]
    listing = platform.cli("services").stdout
    assert re.search(r"killed .*failed", listing), listing
    with platform.client() as client:
        client.delete(kept["id"])
        client.delete(killed["id"])
    assert not _alive(kept_pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
