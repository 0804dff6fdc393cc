"""``codif search`` against a fake platform whose "jobs" log their run straight into a local MLflow store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from codif.errors import InvalidParameter
from codif.search import SEARCH_EXPERIMENT, draw_configurations, run_search


class FakePlatform:
    """Launches "jobs" that finish at the next poll: each logs the run ``codif train`` would have logged."""

    def __init__(self, tracking_uri: str, fail: set[int]) -> None:
        self.client = MlflowClient(tracking_uri=tracking_uri)
        self.fail = fail
        self.launched: list[dict[str, Any]] = []
        self.polls: dict[str, int] = {}

    def launch(self, chart: str, **options: Any) -> dict[str, Any]:
        service_id = f"python-job-{len(self.launched) + 1}"
        self.launched.append({"id": service_id, "chart": chart, **options})
        return {"id": service_id, "status": "pending"}

    def _finish(self, service_id: str) -> str:
        launch = next(item for item in self.launched if item["id"] == service_id)
        command: list[str] = launch["overrides"]["job.command"]
        number = len([item for item in self.launched if item["id"] <= service_id])
        if number in self.fail:
            return "failed"
        value = dict(pair.split("=") for pair in command[command.index("--param") + 1 :: 2])
        experiment = self.client.get_experiment_by_name(command[command.index("--experiment") + 1])
        assert experiment is not None
        run = self.client.create_run(
            experiment.experiment_id,
            run_name=command[command.index("--run-name") + 1],
            tags={"mlflow.parentRunId": command[command.index("--parent-run") + 1]},
        )
        self.client.log_metric(run.info.run_id, "top1_subclass", float(value["svm_c"]))
        self.client.set_terminated(run.info.run_id, "FINISHED")
        return "succeeded"

    def service(self, service_id: str) -> dict[str, Any]:
        self.polls[service_id] = self.polls.get(service_id, 0) + 1
        if self.polls[service_id] == 1:
            return {"id": service_id, "status": "running"}
        return {"id": service_id, "status": self._finish(service_id), "message": ""}

    def logs(self, service_id: str, *, tail: int | None = None) -> str:
        return "Traceback...\nValueError: boom\n"


def test_configurations_are_distinct_valid_and_reproducible() -> None:
    drawn = draw_configurations(6, seed=3)
    assert drawn == draw_configurations(6, seed=3)
    assert len({tuple(sorted(c.items())) for c in drawn}) == 6
    assert all(c["model"] == "tfidf" for c in drawn)
    assert draw_configurations(2, model="fasttext")[0].keys() >= {"dim", "lr", "epoch", "word_ngrams", "loss"}
    with pytest.raises(InvalidParameter):
        draw_configurations(0)
    with pytest.raises(InvalidParameter):
        draw_configurations(2, model="bert")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One local MLflow store for the module (creating one takes seconds)."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


def test_search_runs_every_trial_nests_runs_and_picks_the_best(store: str, tmp_path: Path) -> None:
    uri = store
    platform = FakePlatform(uri, fail={2})
    configurations = [{"model": "tfidf", "svm_c": c} for c in (0.2, 0.9, 0.5, 0.7)]
    lines: list[str] = []
    result = run_search(
        platform,
        configurations,
        data=tmp_path / "corpus.parquet",
        data_dir=tmp_path,
        holdout_folds=(1,),
        parallel=2,
        tracking_uri=uri,
        poll_seconds=0.0,
        register=False,
        progress=lines.append,
    )
    # one python-job per trial, a plain argument list, at most 2 at once
    assert [item["chart"] for item in platform.launched] == ["python-job"] * 4
    command = platform.launched[0]["overrides"]["job.command"]
    assert command[:4] == ["codif", "train", "--data", str(tmp_path / "corpus.parquet")]
    assert "--no-register" in command and command[command.index("--holdout-fold") + 1] == "1"
    assert platform.launched[0]["overrides"]["environment.requirements"] == ["sardonyx[codif]"]
    # trial 2 (svm_c 0.9) failed: the best of the others is trial 4 (0.7)
    assert [t.status for t in result.trials] == ["succeeded", "failed", "succeeded", "succeeded"]
    assert result.trials[1].message == "ValueError: boom"
    assert result.best is not None and result.best.number == 4
    assert result.version is None
    client = MlflowClient(tracking_uri=uri)
    parent = client.get_run(result.parent_run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.metrics["best_top1_subclass"] == pytest.approx(0.7)
    assert parent.data.tags["codif.best_trial"] == "4"
    experiment = client.get_experiment_by_name(SEARCH_EXPERIMENT)
    assert experiment is not None
    assert any("trial 2 failed" in line for line in lines)
    assert lines[-1].startswith("best: trial 4")


def test_a_search_without_any_result_marks_the_parent_failed(store: str, tmp_path: Path) -> None:
    uri = store
    platform = FakePlatform(uri, fail={1})
    result = run_search(
        platform,
        [{"model": "tfidf", "svm_c": 0.5}],
        data=tmp_path / "c.parquet",
        tracking_uri=uri,
        poll_seconds=0.0,
        progress=lambda _: None,
    )
    assert result.best is None
    assert MlflowClient(tracking_uri=uri).get_run(result.parent_run_id).info.status == "FAILED"
