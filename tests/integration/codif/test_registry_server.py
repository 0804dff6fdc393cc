"""The registry path on a real ``mlflow server``: train twice, promote, keep, force, roll back; ``mlflow run``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.codif_cli import run_cli

pytestmark = pytest.mark.integration

# small and fast: the test is about the plumbing, not the quality (full training runs in test_train_evaluate)
FAST = ["-p", "svm_features=word", "-p", "svm_c=0.05"]


def _aliases() -> dict[str, str]:
    return {alias: str(v) for alias, v in MlflowClient().get_registered_model("codif").aliases.items()}


def test_promote_keep_force_and_rollback(
    mlflow_server: str,
    real_data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    monkeypatch.chdir(tmp_path)
    # a corpus with 4 of the 5 expert folds: the model is evaluated on the fold it did not see
    corpus = tmp_path / "corpus.parquet"
    gold = str(real_data / "labeled/gold_dev.csv")
    build = ["data", "build", "--data-dir", str(real_data), "--expert", gold, "--out", str(corpus)]
    assert run_cli(build, monkeypatch) == 0
    capsys.readouterr()
    train = ["train", "--data-dir", str(real_data), "--data", str(corpus), "--holdout-fold", "0", *FAST]
    assert run_cli(train, monkeypatch) == 0
    assert capsys.readouterr().out.strip() == "models:/codif/1"
    assert run_cli(["promote"], monkeypatch) == 0
    assert "promoted version 1 to @champion (no champion before)" in capsys.readouterr().out
    assert _aliases() == {"challenger": "1", "champion": "1"}

    # a worse challenger (expert rows weigh almost nothing) is not promoted
    assert run_cli([*train, "-p", "expert_weight=0.01", "-p", "knn_weight=0"], monkeypatch) == 0
    capsys.readouterr()
    assert run_cli(["promote"], monkeypatch) == 0
    out = capsys.readouterr().out
    assert "kept @champion = version 1" in out and "top1_subclass" in out
    assert _aliases() == {"challenger": "2", "champion": "1"}

    assert run_cli(["promote", "--force"], monkeypatch) == 0
    assert "version 1 kept as @previous" in capsys.readouterr().out
    assert _aliases() == {"challenger": "2", "champion": "2", "previous": "1"}
    assert run_cli(["promote", "--rollback"], monkeypatch) == 0
    assert "@champion = version 1" in capsys.readouterr().out
    assert _aliases() == {"challenger": "2", "champion": "1", "previous": "2"}

    # evaluation through the server's registry and proxied artifacts
    assert run_cli(["evaluate", "--model", "models:/codif@champion", "--data", gold, "--json"], monkeypatch) == 0
    assert '"top1"' in capsys.readouterr().out


def test_mlflow_run_trains_and_registers(mlflow_server: str, tmp_path: Path) -> None:
    repository = Path(__file__).resolve().parents[3]
    inherited = {k: v for k, v in os.environ.items() if k not in {"MLFLOW_EXPERIMENT_ID", "MLFLOW_RUN_ID"}}
    env = {
        **inherited,
        "MLFLOW_TRACKING_URI": mlflow_server,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("mlflow")),
            "run",
            str(repository),
            "--env-manager",
            "local",
            "--experiment-name",
            "codif-mlproject",
            "-P",
            "extra=svm_features=word svm_c=0.05",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "models:/codif/" in result.stdout
    client = MlflowClient(tracking_uri=mlflow_server)
    [run] = client.search_runs(
        [client.get_experiment_by_name("codif-mlproject").experiment_id],  # type: ignore[union-attr]
    )
    assert run.data.params["svm_c"] == "0.5"  # logged by `mlflow run` (-P default); the extra value trained
    assert "top1_subclass" in run.data.metrics


def test_unreachable_server_is_a_clear_error(
    real_data: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from .conftest import free_port

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    assert run_cli(["promote"], monkeypatch) == 1
    assert "MLFLOW_TRACKING_URI" in capsys.readouterr().err
    assert (
        run_cli(
            ["evaluate", "--model", "models:/codif@champion", "--data", str(real_data / "labeled/gold_dev.csv")],
            monkeypatch,
        )
        == 1
    )
    assert "MLFLOW_TRACKING_URI" in capsys.readouterr().err
