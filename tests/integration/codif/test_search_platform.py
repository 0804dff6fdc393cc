"""``codif search`` on a real platform: ``sardonyx up``, an ``mlflow`` service, trials as ``python-job`` services."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.integration.platform.conftest import RunningPlatform, start_platform, stop_platform

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CODIF = Path(sys.executable).parent / "codif"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    running = start_platform(tmp_path_factory.mktemp("sardonyx"))
    try:
        yield running
    finally:
        stop_platform(running)


def test_search_fans_trials_out_as_jobs_and_registers_the_best(
    platform: RunningPlatform, real_data: Path, tmp_path: Path
) -> None:
    with platform.client() as client:
        tracking = client.wait(client.launch("mlflow", friendly_name="tracking")["id"], timeout=900)
        assert tracking["status"] == "running", tracking["message"]
    env = {k: v for k, v in platform.env.items() if not k.startswith("MLFLOW_")} | {"CODIF_DATA_DIR": str(real_data)}
    result = subprocess.run(
        [str(CODIF), "search", "--trials", "3", "--parallel", "2", "--platform", platform.url, "-p", "svm_c=0.1"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=1800,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "models:/codif/1"
    assert "trial 3/3 launched" in result.stderr and "best: trial" in result.stderr

    # the trials are services of the project, all succeeded
    with platform.client() as client:
        jobs = [app for app in client.services() if app["chartName"] == "python-job"]
    assert len(jobs) == 3
    assert {job["status"] for job in jobs} == {"succeeded"}
    assert all("trial" in job["friendlyName"] for job in jobs)

    # grouped in MLflow under one parent run; the best one is registered as @challenger
    mlflow = MlflowClient(tracking_uri=tracking["urls"][0].rstrip("/"))
    experiment = mlflow.get_experiment_by_name("codif-search")
    assert experiment is not None
    runs = mlflow.search_runs([experiment.experiment_id])
    parents = [run for run in runs if "codif.search" in run.data.tags]
    assert len(parents) == 1
    children = [run for run in runs if run.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert len(children) == 3
    assert all(run.data.params["svm_c"] == "0.1" for run in children)
    best = max(children, key=lambda run: run.data.metrics["top1_subclass"])
    assert parents[0].data.tags["codif.best_run_id"] == best.info.run_id
    version = mlflow.get_model_version_by_alias("codif", "challenger")
    assert str(version.version) == "1"
    summary = json.loads(json.dumps(parents[0].data.metrics))
    assert summary["best_top1_subclass"] == best.data.metrics["top1_subclass"]
    assert os.environ.get("MLFLOW_RUN_ID") is None  # nothing leaked into this process
