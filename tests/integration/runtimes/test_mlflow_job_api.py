"""mlflow, then a python-job that logs a run to it (found through discovery), then a python-api: the run is in
that MLflow, its artifact in the project's bucket, and the API answers its health check."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from sardonyx.runtimes.base import ServiceStatus
from sardonyx.runtimes.local import LocalRuntime
from sardonyx.storage.credentials import S3Credentials
from tests.integration.runtimes.conftest import ValuesFor, chart_spec

pytestmark = [pytest.mark.integration, pytest.mark.anyio, pytest.mark.slow]

JOB_SCRIPT = """
import sys
import mlflow

mlflow.set_experiment("integration")
with mlflow.start_run() as run:
    mlflow.log_param("wordNgrams", int(sys.argv[1]))
    mlflow.log_metric("accuracy", 0.87)
    with open("report.txt", "w") as handle:
        handle.write("accuracy 0.87\\n")
    mlflow.log_artifact("report.txt")
print("RUN", run.info.run_id)
"""

API_CODE = """
from fastapi import FastAPI

app = FastAPI()


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
"""


async def wait_ended(runtime: LocalRuntime, service_id: str, timeout: float = 900) -> ServiceStatus:
    for _ in range(int(timeout / 0.2)):
        status = (await runtime.status(service_id)).status
        if status in {ServiceStatus.SUCCEEDED, ServiceStatus.FAILED}:
            return status
        await asyncio.sleep(0.2)
    pytest.fail(f"{service_id} did not end")


async def test_mlflow_then_a_job_logging_a_run_then_an_api(
    runtime: LocalRuntime, alice_s3: S3Credentials, values_for: ValuesFor
) -> None:
    await runtime.start(chart_spec("mlflow-1", "mlflow", values_for("mlflow", alice_s3)))
    events = [e async for e in runtime.progress("mlflow-1")]
    assert events[-1].kind == "ready", events[-1].message
    published = await runtime.discovery("mlflow-1")
    tracking = published["MLFLOW_TRACKING_URI"]
    assert tracking == (await runtime.status("mlflow-1")).urls[0].rstrip("/")
    assert published["MLFLOW_S3_ENDPOINT_URL"] == alice_s3.endpoint_url

    job_values = values_for(
        "python-job",
        alice_s3,
        {"environment.requirements": ["mlflow-skinny>=3.17,<4"], "job.script": JOB_SCRIPT, "job.args": ["2"]},
    )
    await runtime.start(chart_spec("python-job-1", "python-job", job_values, discovery=published))
    status = await wait_ended(runtime, "python-job-1")
    lines = [line async for line in runtime.logs("python-job-1")]
    assert status is ServiceStatus.SUCCEEDED, "\n".join(lines[-30:])
    run_id = next(line.split()[1] for line in lines if line.startswith("RUN "))

    async with httpx.AsyncClient(base_url=tracking, trust_env=False) as client:
        run = (await client.get("/api/2.0/mlflow/runs/get", params={"run_id": run_id})).raise_for_status().json()["run"]
    assert run["info"]["status"] == "FINISHED"
    assert {m["key"]: m["value"] for m in run["data"]["metrics"]} == {"accuracy": 0.87}
    assert {p["key"]: p["value"] for p in run["data"]["params"]} == {"wordNgrams": "2"}
    keys = [
        o["Key"]
        for o in alice_s3.client()
        .list_objects_v2(Bucket=alice_s3.bucket, Prefix="mlflow-artifacts/")
        .get("Contents", [])
    ]
    assert any(key.endswith(f"{run_id}/artifacts/report.txt") for key in keys), keys

    api_values = values_for("python-api", alice_s3, {"api.code": API_CODE, "api.module": "main:app"})
    await runtime.start(chart_spec("python-api-1", "python-api", api_values, discovery=published))
    events = [e async for e in runtime.progress("python-api-1")]
    assert events[-1].kind == "ready", events[-1].message
    base = (await runtime.status("python-api-1")).urls[0].removesuffix("/docs")
    async with httpx.AsyncClient(trust_env=False) as client:
        response = await client.get(f"{base}/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    notes = await runtime.notes("python-api-1")
    assert notes is not None and tracking in notes
