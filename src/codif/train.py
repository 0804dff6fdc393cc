"""``codif train``: train on a corpus, evaluate on expert forms not seen in training, log and register in MLflow."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codif.data import build_corpus, corpus_hash, read_corpus, read_labelled_forms
from codif.evaluate import Evaluation, evaluate_forms, insee_test_cases
from codif.metrics import plot_auto_coding
from codif.model import CodifModel
from codif.nomenclature import UNCLASSIFIABLE, Nomenclature
from codif.params import ModelParams
from codif.paths import GOLD_CSV, data_file
from codif.text import group_key

if TYPE_CHECKING:
    import pandas as pd

    from codif.data import LabelledForms
    from codif.tracking import Registered


@dataclass(frozen=True)
class TrainingResult:
    """A trained model, how long it took, and its evaluation on the unseen expert forms (None when none left)."""

    model: CodifModel
    seconds: float
    corpus_hash: str
    evaluation: Evaluation | None
    evaluation_excluded: int
    insee_tests: pd.DataFrame
    registered: Registered | None = None


def load_training_corpus(
    nomenclature: Nomenclature, data: Path | str | None, data_dir: Path | str | None = None
) -> pd.DataFrame:
    """The corpus at ``data`` (Parquet from ``codif data build``), else the nomenclature corpus built now."""
    if data is not None:
        return read_corpus(data)
    return build_corpus(nomenclature, data_dir=data_dir)


def unseen(labelled: LabelledForms, corpus: pd.DataFrame) -> tuple[LabelledForms, int]:
    """``labelled`` without the forms whose normalised text is among the corpus's expert rows; and how many left out."""
    from codif.data import LabelledForms

    seen = set(corpus.loc[corpus["source"] == "expert", "group"])
    keep = [i for i, form in enumerate(labelled.forms) if group_key(form.description) not in seen]
    kept = LabelledForms(
        forms=tuple(labelled.forms[i] for i in keep),
        labels=tuple(labelled.labels[i] for i in keep),
        rows=tuple(labelled.rows[i] for i in keep),
    )
    return kept, len(labelled) - len(keep)


def train_and_evaluate(
    params: ModelParams,
    *,
    nomenclature: Nomenclature,
    corpus: pd.DataFrame,
    evaluation_file: Path | str | None = None,
    data_dir: Path | str | None = None,
) -> TrainingResult:
    """Train on ``corpus``; evaluate on ``evaluation_file`` (default gold_dev.csv) minus the forms seen in training.

    The evaluation is None when no classifiable form is left (a model trained on the whole evaluation file).
    """
    started = time.perf_counter()
    version = corpus_hash(corpus)
    model = CodifModel.train(corpus, nomenclature, params, info={"corpus_hash": version})
    seconds = time.perf_counter() - started
    model.info["training_seconds"] = round(seconds, 2)
    source = Path(evaluation_file) if evaluation_file is not None else data_file(GOLD_CSV, data_dir)
    labelled, excluded = unseen(read_labelled_forms(source, nomenclature), corpus)
    # unclassifiable (XXXXX) forms are never trained on, so they stay: without a classifiable form left there is
    # nothing to score (no accuracy, no per-class F1)
    scorable = any(label != UNCLASSIFIABLE for label in labelled.labels)
    evaluation = evaluate_forms(model, labelled, nomenclature) if scorable else None
    tests = insee_test_cases(model, nomenclature, data_dir)
    return TrainingResult(model, seconds, version, evaluation, excluded, tests)


def register(
    result: TrainingResult,
    params: ModelParams,
    nomenclature: Nomenclature,
    *,
    corpus: pd.DataFrame,
    data: str,
    evaluation_name: str,
    run_name: str | None = None,
    extra_tags: dict[str, str] | None = None,
    register_model: bool = True,
    parent_run_id: str | None = None,
) -> TrainingResult:
    """Log ``result`` to MLflow (params, data version, metrics, per-class F1, curve, Insee tests) and register it."""

    from codif.tracking import log_and_register, metrics_for_mlflow

    metrics: dict[str, float] = {"training_seconds": round(result.seconds, 2)}
    tables: dict[str, pd.DataFrame] = {"insee_tests.csv": result.insee_tests}
    documents: dict[str, Any] = {}
    figures: dict[str, Path] = {}
    tests = result.insee_tests
    metrics["insee_tests_passed"] = float(tests["passed"].sum())
    for case, passed, ic in zip(tests["case"], tests["passed"], tests["ic"], strict=True):
        metrics[f"insee_test_{case}_result"] = float(passed)
        metrics[f"insee_test_{case}_ic"] = float(ic)
    with tempfile.TemporaryDirectory(prefix="codif-figures-") as folder:
        if result.evaluation is not None:
            metrics.update(metrics_for_mlflow(result.evaluation.metrics))
            tables["per_class_f1.csv"] = result.evaluation.per_class(nomenclature)
            documents["evaluation.json"] = result.evaluation.metrics
            figure = Path(folder) / "auto_coding_curve.png"
            plot_auto_coding(
                result.evaluation.metrics["auto_coding"],
                f"codif {params.model} on {evaluation_name} (n={result.evaluation.metrics['n']})",
                str(figure),
            )
            figures["auto_coding_curve"] = figure
        sources = corpus["source"].value_counts().to_dict()
        tags = {
            "corpus_hash": result.corpus_hash,
            "data": data,
            "evaluation_data": evaluation_name,
            **(extra_tags or {}),
        }
        logged_params = {
            **params.relevant(),
            "data_version": result.corpus_hash,
            "corpus_rows": len(corpus),
            **{f"corpus_rows_{name}": count for name, count in sorted(sources.items())},
            "evaluation_data": evaluation_name,
            "evaluation_excluded_seen": result.evaluation_excluded,
        }
        registered = log_and_register(
            result.model,
            params=logged_params,
            tags=tags,
            metrics=metrics,
            tables=tables,
            documents=documents,
            figures=figures,
            run_name=run_name,
            register=register_model,
            parent_run_id=parent_run_id,
        )
    return TrainingResult(
        result.model,
        result.seconds,
        result.corpus_hash,
        result.evaluation,
        result.evaluation_excluded,
        result.insee_tests,
        registered,
    )


def holdout(corpus: pd.DataFrame, folds: Sequence[int]) -> pd.DataFrame:
    """``corpus`` without the expert rows of ``folds`` (to evaluate on them)."""
    drop = (corpus["source"] == "expert") & corpus["fold"].isin(list(folds))
    return corpus[~drop].reset_index(drop=True)
