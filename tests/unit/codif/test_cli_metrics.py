"""Metrics on hand-computed cases; the CLI's error reporting; MLflow settings errors."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import numpy as np
import pytest

from codif.errors import TrackingUnavailable
from codif.metrics import (
    auto_coding_curve,
    brier_score,
    evaluate_probabilities,
    expected_calibration_error,
    per_class_f1,
)
from codif.nomenclature import Nomenclature
from codif.tracking import ensure_reachable, metrics_for_mlflow
from tests.codif_cli import run_cli


def test_ece_and_brier_on_hand_computed_cases() -> None:
    confidence = np.array([0.9, 0.9, 0.3, 0.3])
    correct = np.array([True, False, False, False])
    # bin 0.9: accuracy 0.5 vs 0.9; bin 0.3: accuracy 0 vs 0.3 -> 0.5 * 0.4 + 0.5 * 0.3
    assert expected_calibration_error(confidence, correct) == pytest.approx(0.35)
    probabilities = np.array([[1.0, 0.0], [0.5, 0.5]])
    # row 1 perfect (0); row 2: (0.5 - 0)^2 + (0.5 - 1)^2 = 0.5
    assert brier_score(probabilities, np.array([0, 1])) == pytest.approx(0.25)


def test_auto_coding_curve() -> None:
    curve = auto_coding_curve(np.array([0.9, 0.5, 0.1, 0.0]), np.array([True, True, False, False]), [0.0, 0.5, 0.95])
    assert curve == [
        {"threshold": 0.0, "coverage": 1.0, "accuracy": 0.5},
        {"threshold": 0.5, "coverage": 0.5, "accuracy": 1.0},
        {"threshold": 0.95, "coverage": 0.0, "accuracy": None},
    ]


def test_evaluation_json_shape_and_levels(nomenclature: Nomenclature) -> None:
    classes = nomenclature.subclasses  # 1071C 1071D 4791A 4791B 5320Z 6820A 6820B
    probabilities = np.zeros((4, len(classes)))
    probabilities[0, classes.index("1071C")] = 0.9  # right
    probabilities[0, classes.index("1071D")] = 0.1
    probabilities[1, classes.index("4791A")] = 0.6  # wrong subclass, right class
    probabilities[1, classes.index("4791B")] = 0.4
    probabilities[2, classes.index("6820A")] = 1.0  # wrong section
    probabilities[3, classes.index("5320Z")] = 1.0  # an unclassifiable form
    labels = ["1071C", "4791B", "5320Z", "XXXXX"]
    metrics = evaluate_probabilities(probabilities, classes, labels, nomenclature, thresholds=[0.0, 0.5])
    assert set(metrics) == {"n", "top1", "top5", "macro_f1", "ece", "brier", "auto_coding", "unclassifiable"}
    assert metrics["n"] == 3
    assert metrics["top1"] == {
        "section": pytest.approx(2 / 3, abs=1e-4),
        "division": pytest.approx(2 / 3, abs=1e-4),
        "group": pytest.approx(2 / 3, abs=1e-4),
        "class": pytest.approx(2 / 3, abs=1e-4),
        "subclass": pytest.approx(1 / 3, abs=1e-4),
    }
    assert metrics["top5"]["subclass"] == pytest.approx(2 / 3, abs=1e-4)
    assert metrics["auto_coding"][1] == {"threshold": 0.5, "coverage": pytest.approx(2 / 3, abs=1e-4), "accuracy": 0.5}
    assert metrics["unclassifiable"]["n"] == 1
    assert metrics["unclassifiable"]["mean_ic"] == 1.0
    assert metrics["unclassifiable"]["auto_coded"][1] == {"threshold": 0.5, "share": 1.0}
    json.dumps(metrics)  # plain JSON types only
    flat = metrics_for_mlflow(metrics)
    assert flat["top1_subclass"] == metrics["top1"]["subclass"]
    assert flat["auto_coding_coverage_ic_0.50"] == metrics["auto_coding"][1]["coverage"]
    table = per_class_f1(["1071C", "4791B"], ["1071C", "4791A"], nomenclature)
    assert list(table["code"]) == ["1071C", "4791B", "4791A"]
    assert list(table["f1"]) == [1.0, 0.0, 0.0]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_unreachable_mlflow_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{_free_port()}")
    with pytest.raises(TrackingUnavailable, match="MLFLOW_TRACKING_URI"):
        ensure_reachable(timeout=2)


def test_cli_reports_bad_input_without_traceback(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label_majority\n,1071C\nBoulangerie,1234Q\n", encoding="utf-8")
    code = run_cli(
        ["data", "build", "--data-dir", str(data_dir), "--expert", str(bad), "--out", str(tmp_path / "c")], monkeypatch
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "bad.csv row 1" in err and "empty" in err
    assert "bad.csv row 2" in err and "1234Q" in err
    assert "Traceback" not in err

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{_free_port()}")
    code = run_cli(["train", "--data-dir", str(data_dir), "-p", "dim=0", "-p", "nonsense=1"], monkeypatch)
    err = capsys.readouterr().err
    assert code == 1
    assert "dim" in err and "nonsense" in err
    code = run_cli(["train", "--data-dir", str(data_dir)], monkeypatch)
    err = capsys.readouterr().err
    assert code == 1
    assert "MLFLOW_TRACKING_URI" in err and "unreachable" in err


def test_cli_data_build_writes_the_corpus(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "corpus.parquet"
    gold = data_dir / "labeled/gold_dev.csv"
    code = run_cli(
        ["data", "build", "--data-dir", str(data_dir), "--expert", str(gold), "--out", str(out)], monkeypatch
    )
    captured = capsys.readouterr()
    assert code == 0
    assert captured.out.strip() == str(out)
    assert "data version" in captured.err
    assert out.is_file()


def test_cli_train_reads_every_file_from_the_data_dir(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # the tiny folder's nomenclature has 7 subclasses: reading Insee's 20 real test cases (codes such as 4776Z)
    # against it instead of the folder's own 2 would fail with "not a NAF rév. 2 subclass"
    monkeypatch.chdir(tmp_path)
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    code = run_cli(["train", "--data-dir", str(data_dir), "--tracking-uri", tracking, "--no-register"], monkeypatch)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Insee test cases passed:" in captured.err
    assert "/2\n" in captured.err
    assert captured.out.strip().startswith(("runs:/", "models:/"))
