"""``codif serve`` on a real MLflow registry and the real codif model (trained by ``codif train`` on the real
data): loads the champion, answers the 50 real Sirene examples, follows the alias without downtime, keeps
serving when a new version is broken, ships its business logs to a real S3 (SeaweedFS) and keeps them when S3
fails."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import mlflow
import pytest

from sardonyx.ports import free_port
from sardonyx.storage.credentials import S3Credentials

from .conftest import TcpForwarder, start_serve
from .models import log_not_a_coder, promote, sirene_rows, train

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def registry(mlflow_uri: str, champion: str) -> Iterator[str]:
    """The session's MLflow with the real codif model as @champion (put back after each test)."""
    mlflow.set_tracking_uri(mlflow_uri)
    yield mlflow_uri
    mlflow.MlflowClient().set_registered_model_alias("codif", "champion", champion)


def _forms(shared: Path) -> list[dict[str, str]]:
    return [
        {
            "description": r["text_description"],
            "type_form": r["type_"],
            "nature": r["nature"],
            "surface": r["surface"],
            "event": r["event"],
        }
        for r in sirene_rows(shared)
    ]


def _wait(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not after {timeout} s")
        time.sleep(0.1)


def test_serves_the_champion_and_follows_the_alias(registry: str, shared_dir: Path, tmp_path: Path) -> None:
    client_mlflow = mlflow.MlflowClient()
    served = start_serve(tmp_path / "serve", {"MLFLOW_TRACKING_URI": registry, "CODIF_SERVE_POLL_SECONDS": "0.5"})
    try:
        with served.client() as client:
            health = client.get("/health").json()
            first = health["model"]["version"]
            assert health["model"]["uri"] == "models:/codif@champion"
            assert health["reload"]["follows_alias"] is True

            answer = client.get(
                "/predict",
                params={"description": "MACONNERIE GENERALE", "type_form": "M", "event": "05P", "prob_min": 0},
            )
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["model"] == {"name": "codif", "version": first}
            best = body["candidates"][0]
            assert best["code"] == "4399C"
            assert best["label"] == "Travaux de maçonnerie générale et gros œuvre de bâtiment"
            assert body["ic"] == pytest.approx(best["probability"] - body["candidates"][1]["probability"], abs=1e-6)

            forms = _forms(shared_dir)
            batch = client.post("/predict", json={"forms": forms})
            assert batch.status_code == 200, batch.text
            predictions = batch.json()["predictions"]
            assert len(predictions) == 50
            expected = [r["code"] for r in sirene_rows(shared_dir)]
            found = sum(e in [c["code"] for c in p["candidates"]] for p, e in zip(predictions, expected, strict=True))
            assert found >= 30  # the real model finds the code in its top 5 for 37 of the 50 examples

            # a new version behind the alias is picked up by the poller while requests keep being answered
            errors: list[str] = []
            versions: set[str] = set()
            stop = threading.Event()

            def hammer() -> None:
                with served.client() as c:
                    while not stop.is_set():
                        r = c.get("/predict", params={"description": "COIFFURE A DOMICILE"})
                        if r.status_code != 200:
                            errors.append(r.text)
                        else:
                            versions.add(r.json()["model"]["version"])

            worker = threading.Thread(target=hammer)
            worker.start()
            try:
                second = train(registry, tmp_path / "train-v2", "svm_c=0.05")
                promote(registry, tmp_path / "train-v2")
                _wait(lambda: client.get("/health").json()["model"]["version"] == second, 60, "alias followed")
                time.sleep(0.3)
            finally:
                stop.set()
                worker.join()
            assert errors == []
            assert versions == {first, second}

            # a broken version leaves the old one serving, and is reported
            broken = log_not_a_coder()
            client_mlflow.set_registered_model_alias("codif", "champion", broken)
            state = client.post("/admin/reload", params={"wait": 60}).json()
            assert state["model"]["version"] == second
            assert state["reload"]["last_failure"]["version"] == broken
            assert "has no predict_forms method" in state["reload"]["last_failure"]["error"]
            assert client.get("/health").json()["status"] == "degraded"
            assert client.get("/predict", params={"description": "pain"}).json()["model"]["version"] == second
    finally:
        served.stop()
    output = served.output()
    assert f"now serving codif version {second}" in output
    assert f"model reload failed, version {second} still serving" in output
    # every answered prediction is in the business logs (no S3 here: the files stay)
    lines = [json.loads(line) for f in served.logs_dir.glob("*.jsonl") for line in f.read_text().splitlines()]
    assert len([line for line in lines if line["batch_size"] == 50]) == 50
    assert {line["model_version"] for line in lines} == {first, second}


def test_business_logs_land_in_the_project_bucket(
    registry: str, shared_dir: Path, tmp_path: Path, s3_project: S3Credentials
) -> None:
    env = {
        "MLFLOW_TRACKING_URI": registry,
        **s3_project.environment(),
        "AWS_WORKING_DIRECTORY_PATH": f"{s3_project.bucket}/",  # what the platform derives from the context
        "CODIF_SERVE_LOGS_ROTATE_SECONDS": "1",
    }
    served = start_serve(tmp_path / "serve", env)
    try:
        with served.client() as client:
            assert (
                client.get("/health").json()["business_logs"]["destination"] == f"s3://{s3_project.bucket}/codif/logs/"
            )
            for form in _forms(shared_dir):
                assert client.get("/predict", params=form | {"prob_min": "0"}).status_code == 200
            s3 = s3_project.client()

            def objects() -> list[str]:
                listing = s3.list_objects_v2(Bucket=s3_project.bucket, Prefix="codif/logs/")
                return [o["Key"] for o in listing.get("Contents", [])]

            def lines() -> list[dict[str, Any]]:
                found = []
                for key in objects():
                    body = s3.get_object(Bucket=s3_project.bucket, Key=key)["Body"].read().decode()
                    found += [json.loads(line) for line in body.splitlines()]
                return found

            _wait(lambda: len(lines()) == 50, 30, "50 business log lines in S3")
            assert all(key.startswith("codif/logs/date=") and key.endswith(".jsonl") for key in objects())
            assert [line["inputs"]["description"] for line in lines()] == [
                r["text_description"].strip() for r in sirene_rows(shared_dir)
            ]
            assert client.get("/health").json()["business_logs"]["files_uploaded"] >= 1
            assert list(served.logs_dir.glob("*.jsonl")) == []
    finally:
        served.stop()


def test_business_logs_are_kept_while_s3_is_down_and_sent_when_it_is_back(
    registry: str, tmp_path: Path, s3_project: S3Credentials
) -> None:
    target = urlsplit(s3_project.endpoint_url)
    proxy = TcpForwarder(free_port(), (target.hostname or "127.0.0.1", target.port or 80))  # S3, down for now
    env = {
        "MLFLOW_TRACKING_URI": registry,
        **s3_project.environment(),
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{proxy.port}",
        "CODIF_SERVE_LOGS_BUCKET": s3_project.bucket,
        "CODIF_SERVE_LOGS_ROTATE_SECONDS": "0.5",
        "CODIF_SERVE_LOGS_RETRY_SECONDS": "0.5",
    }
    served = start_serve(tmp_path / "serve", env)
    try:
        with served.client() as client:
            for i in range(5):
                assert client.get("/predict", params={"description": f"boulangerie {i}"}).status_code == 200

            def upload_error() -> dict[str, str] | None:
                error: dict[str, str] | None = client.get("/health").json()["business_logs"]["last_upload_error"]
                return error

            _wait(lambda: upload_error() is not None, 30, "the upload failure reported")
            health = client.get("/health").json()
            assert health["status"] == "degraded"
            assert health["business_logs"]["pending_files"] >= 1
            kept = [json.loads(line) for f in served.logs_dir.glob("*.jsonl") for line in f.read_text().splitlines()]
            assert len(kept) == 5

            proxy.start()  # S3 is back
            _wait(lambda: upload_error() is None, 30, "the kept files uploaded")
            assert client.get("/health").json()["business_logs"]["pending_files"] == 0
    finally:
        served.stop()
        proxy.stop()
    assert "cannot upload business log" in served.output()
    s3 = s3_project.client()
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=s3_project.bucket).get("Contents", [])]
    sent = [
        json.loads(line)
        for key in keys
        for line in s3.get_object(Bucket=s3_project.bucket, Key=key)["Body"].read().decode().splitlines()
    ]
    assert sorted(line["inputs"]["description"] for line in sent) == [f"boulangerie {i}" for i in range(5)]
