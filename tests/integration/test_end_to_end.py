"""The reference project, end to end, as the README tells it: the platform up, MLflow launched, codif trained as a
platform job on the real data, promoted, its API launched from the catalog, the 50 real Sirene examples sent,
their business logs found in the project's bucket, and the monitoring job's report on them."""

from __future__ import annotations

import csv
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sardonyx.storage import S3Credentials
from tests.integration.platform.conftest import PROJECT, RunningPlatform, start_platform, stop_platform

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    running = start_platform(tmp_path_factory.mktemp("platform"))
    try:
        yield running
    finally:
        stop_platform(running)


def _launch(platform: RunningPlatform, *args: str) -> str:
    """``sardonyx launch ARGS``; the output (the command must succeed)."""
    result = platform.cli("launch", *args, timeout=1800)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _job_log(platform: RunningPlatform, name: str) -> str:
    result = platform.cli("logs", name)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _sirene_examples(shared: Path) -> list[dict[str, str]]:
    with (shared / "data" / "labeled" / "sirene_examples_50.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _credentials(service: dict[str, Any]) -> S3Credentials:
    env = service["env"]
    return S3Credentials(env["s3.accessKeyId"], env["s3.secretAccessKey"], env["s3.endpoint"], PROJECT)


def test_train_promote_serve_and_monitor(platform: RunningPlatform, shared_dir: Path) -> None:
    # 1. MLflow, in the project: services launched after it find it through MLFLOW_TRACKING_URI
    _launch(platform, "mlflow", "--name", "tracking")

    # 2. training as a platform job, on the real data, with this checkout's codif
    codif_job = ["--set", 'environment.requirements=["sardonyx[codif]"]']
    _launch(platform, "python-job", "--name", "train", *codif_job, "--set", 'job.command=["codif", "train"]')
    trained = _job_log(platform, "train")
    assert re.search(r"registered codif version \d+ as @challenger", trained), trained[-3000:]

    # 3. promotion: @champion moves to the challenger
    _launch(platform, "python-job", "--name", "promote", *codif_job, "--set", 'job.command=["codif", "promote"]')
    promoted = _job_log(platform, "promote")
    assert "champion" in promoted, promoted[-3000:]

    # 4. the model API, from the catalog
    output = _launch(platform, "codif-api", "--name", "api", "--set", "businessLogs.rotateSeconds=1")
    url = re.search(r"URL:\s+(\S+)", output)
    assert url, output
    base = url.group(1).removesuffix("/docs")
    with httpx.Client(base_url=base, trust_env=False, timeout=60) as client:
        health = client.get("/health").json()
        assert health["model"]["name"] == "codif"
        assert health["model"]["uri"] == "models:/codif@champion"
        assert health["business_logs"]["destination"] == f"s3://{PROJECT}/codif/logs/"

        # 5. the 50 real Sirene examples, one request each, as forms arrive in production
        examples = _sirene_examples(shared_dir)
        found = 0
        for row in examples:
            query = {"description": row["text_description"], "type_form": row["type_"], "nature": row["nature"]}
            query |= {"surface": row["surface"], "event": row["event"]}
            answer = client.get("/predict", params=query)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["model"]["version"] == health["model"]["version"]
            assert 0.0 <= body["ic"] <= 1.0
            assert body["candidates"] or body["message"].startswith("no candidate reaches prob_min=0.01")
            found += row["code"] in [c["code"] for c in body["candidates"]]
        print(f"the expected code is among the answered candidates for {found} of {len(examples)} examples")

    # 6. the business logs land in the project's bucket, one line per prediction
    with platform.client() as client_:
        s3 = _credentials(client_.resolve("api")).client()
    deadline = time.monotonic() + 60
    lines: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        listing = s3.list_objects_v2(Bucket=PROJECT, Prefix="codif/logs/date=").get("Contents", [])
        lines = [
            json.loads(line)
            for item in listing
            for line in s3.get_object(Bucket=PROJECT, Key=item["Key"])["Body"].read().decode().splitlines()
        ]
        if len(lines) >= len(examples):
            break
        time.sleep(0.5)
    assert sorted(line["inputs"]["description"] for line in lines) == sorted(
        row["text_description"].strip() for row in examples
    )
    assert {line["model_version"] for line in lines} == {health["model"]["version"]}

    # 7. the monitoring, as a platform job reading the project's bucket: volume, auto-coding rate, drift
    _launch(
        platform, "python-job", "--name", "monitor", *codif_job, "--set", 'job.command=["codif", "monitor", "--json"]'
    )
    monitored = _job_log(platform, "monitor")
    report = json.loads(monitored[monitored.index("{") : monitored.rindex("}") + 1])
    assert report["source"] == f"s3://{PROJECT}/codif/logs/"
    assert report["n"] == len(examples)
    assert report["auto_rate"] == sum(line["ic"] >= 0.8 for line in lines) / len(lines)
    assert sum(code["n"] for code in report["codes"]) == len(examples)

    # 8. the monitoring dashboard, from the catalog: the same report as a page that stays current
    output = _launch(platform, "codif-dashboard", "--name", "dashboard")
    found_url = re.search(r"URL:\s+(\S+)", output)
    assert found_url, output
    with httpx.Client(base_url=found_url.group(1), trust_env=False, timeout=60) as client:
        page = client.get("")
        assert page.status_code == 200, page.text[-2000:]
        assert "codif monitoring" in page.text
        assert f"s3://{PROJECT}/codif/logs/" in page.text
        assert client.get("report.json", params={"level": "division"}).json()["n"] == len(examples)
