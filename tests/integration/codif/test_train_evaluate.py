"""Full training on the real corpus (once), registered in a local MLflow store, loaded back as a pyfunc."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from codif.data import build_corpus, read_labelled_forms
from codif.errors import TrackingUnavailable
from codif.forms import Form
from codif.model import CodifModel
from codif.nomenclature import Nomenclature
from codif.params import ModelParams
from codif.pyfunc import CodifPyfunc
from codif.tracking import log_and_register
from tests.codif_cli import run_cli

pytestmark = pytest.mark.integration


def test_real_corpus_has_every_subclass_and_source(real_nomenclature: Nomenclature, real_data: Path) -> None:
    corpus = build_corpus(real_nomenclature, [real_data / "labeled/gold_dev.csv"], data_dir=real_data)
    assert corpus["label"].nunique() == 732
    counts = corpus["source"].value_counts()
    assert set(counts.index) == {"label", "comprend", "comprend_aussi", "exclusion", "product", "guichet", "expert"}
    assert counts["expert"] == 1180  # 1,210 forms minus 30 unclassifiable
    assert counts["comprend"] > 2000 and counts["product"] > 5000 and counts["guichet"] > 1000
    expert = corpus[corpus["source"] == "expert"]
    # near-duplicates never straddle folds
    assert (expert.groupby("group")["fold"].nunique() == 1).all()


def test_train_register_evaluate_and_serve_from_mlflow(
    local_store: Path,
    real_data: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    gold = real_data / "labeled/gold_dev.csv"
    assert run_cli(["train", "--data-dir", str(real_data), "--json"], monkeypatch) == 0
    trained = json.loads(capsys.readouterr().out)
    assert trained["model_uri"] == "models:/codif/1"
    # trained without any expert data: the target of the issue is a subclass top-1 of 0.35 on gold_dev.csv
    assert trained["metrics"]["n"] == 1180
    assert trained["metrics"]["top1"]["subclass"] >= 0.35
    assert trained["training_seconds"] < 120  # the 60 s target is checked by benchmarks/codif_train.py

    client = MlflowClient()
    version = client.get_model_version_by_alias("codif", "challenger")
    assert str(version.version) == "1"
    assert version.run_id is not None
    run = client.get_run(version.run_id)
    assert len(run.data.params["data_version"]) == 16
    assert run.data.metrics["top1_subclass"] == trained["metrics"]["top1"]["subclass"]
    assert "insee_tests_passed" in run.data.metrics
    artifacts = {a.path for a in client.list_artifacts(version.run_id)}
    assert {"per_class_f1.csv", "auto_coding_curve.png", "evaluation.json", "insee_tests.csv"} <= artifacts

    # evaluate through the registry, with exactly the JSON shape of the issue
    assert run_cli(["evaluate", "--model", "models:/codif@challenger", "--data", str(gold), "--json"], monkeypatch) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert list(metrics) == ["n", "top1", "top5", "macro_f1", "ece", "brier", "auto_coding", "unclassifiable"]
    assert list(metrics["top1"]) == ["section", "division", "group", "class", "subclass"]
    assert metrics["top1"] == trained["metrics"]["top1"]
    assert metrics["unclassifiable"]["n"] == 30
    assert all(set(p) == {"threshold", "coverage", "accuracy"} for p in metrics["auto_coding"])

    # the pyfunc: a table in, a table out; and the Coder the API unwraps
    loaded = mlflow.pyfunc.load_model("models:/codif@challenger")
    table = pd.DataFrame(
        {"description": ["Boulangerie pâtisserie", "Livreur à vélo Uber Eats"], "type_form": ["C", "X"]}
    )
    out = loaded.predict(table, params={"k": 3, "prob_min": 0.0})
    assert list(out.columns)[:3] == ["code_1", "label_1", "probability_1"]
    assert len(out) == 2 and out["ic"].between(0, 1).all()
    coder = loaded.unwrap_python_model()
    assert isinstance(coder, CodifPyfunc)
    [prediction] = coder.predict_forms([Form("Livreur à vélo Uber Eats", type_form="X")], k=5)
    assert prediction.candidates[0].code == "5320Z"
    assert prediction.candidates[0].label == "Autres activités de poste et de courrier"


def test_bad_evaluation_input_names_rows(
    local_store: Path,
    real_data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label_majority\nBoulangerie,10.71C\n  ,4791A\nVente,99.99Z\n", encoding="utf-8")
    assert run_cli(["evaluate", "--model", "models:/codif@champion", "--data", str(bad)], monkeypatch) == 1
    err = capsys.readouterr().err
    assert "row 2" in err and "row 3" in err and "99.99Z" in err
    missing = tmp_path / "missing.csv"
    missing.write_text("libelle_activite\nBoulangerie\n", encoding="utf-8")
    assert run_cli(["evaluate", "--model", "models:/codif@champion", "--data", str(missing)], monkeypatch) == 1
    assert "column missing" in capsys.readouterr().err
    ok = real_data / "labeled/sirene_examples_50.csv"
    assert run_cli(["evaluate", "--model", "models:/codif@champion", "--data", str(ok)], monkeypatch) == 1
    assert "codif" in capsys.readouterr().err  # no model registered in this fresh store


def test_nothing_half_registered_when_a_step_fails(
    local_store: Path, real_nomenclature: Nomenclature, real_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = build_corpus(real_nomenclature, data_dir=real_data).sample(3000, random_state=0)
    params = ModelParams()
    model = CodifModel.train(corpus, real_nomenclature, params)

    def refuse(*args: object, **kwargs: object) -> None:
        raise TrackingUnavailable("alias refused (simulated)")

    monkeypatch.setattr(MlflowClient, "set_registered_model_alias", refuse)
    with pytest.raises(TrackingUnavailable):
        log_and_register(model, params={}, tags={}, metrics={}, tables={}, documents={}, figures={})
    client = MlflowClient()
    assert client.search_model_versions("name='codif'") == []
    [run] = mlflow.search_runs(experiment_names=["codif"], output_format="list")
    assert run.info.status == "FAILED"


def test_fasttext_baseline_and_ensemble_on_real_data(real_nomenclature: Nomenclature, real_data: Path) -> None:
    corpus = build_corpus(real_nomenclature, data_dir=real_data)
    gold = read_labelled_forms(real_data / "labeled/gold_dev.csv", real_nomenclature)
    for kind in ("fasttext", "ensemble"):
        params = ModelParams(model=kind, dim=16, epoch=3, bucket=20_000, min_count=1)
        model = CodifModel.train(corpus, real_nomenclature, params)
        probabilities = model.probabilities(gold.forms[:50])
        assert probabilities.shape == (50, 732)
        assert np.isfinite(probabilities).all()
        [prediction] = model.predict_forms([Form("boulangerie", type_form="C")], k=3, prob_min=0.0)
        assert len(prediction.candidates) == 3
