"""Evaluate a codif model on expert-labelled forms, and run Insee's 20 reference test cases.

A model is named by an MLflow URI (``models:/codif@champion``, ``models:/codif/3``, ``runs:/<id>/model``,
``models:/m-<id>``) or by a local folder written by :meth:`codif.model.CodifModel.save`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from codif.data import LabelledForms, read_labelled_forms
from codif.errors import ModelNotFound
from codif.metrics import evaluate_probabilities, per_class_f1
from codif.model import MANIFEST, CodifModel
from codif.nomenclature import UNCLASSIFIABLE, Nomenclature
from codif.paths import INSEE_TESTS_CSV, data_file

if TYPE_CHECKING:
    import pandas as pd


def load_model(uri: str) -> CodifModel:
    """The :class:`CodifModel` behind ``uri`` (a local model folder, or any MLflow model URI).

    Raises:
        ModelNotFound: nothing at ``uri``, or not a codif model.
        TrackingUnavailable: MLflow cannot be reached (the message names ``MLFLOW_TRACKING_URI``).
    """
    local = Path(uri)
    if (local / MANIFEST).is_file():
        return CodifModel.load(local)
    from codif.tracking import load_pyfunc

    wrapper = load_pyfunc(uri)
    model = getattr(wrapper, "model", None)
    if not isinstance(model, CodifModel):
        raise ModelNotFound(f"{uri} is an MLflow model but not a codif model")
    return model


@dataclass(frozen=True)
class Evaluation:
    """Result of :func:`evaluate_forms`: the metrics, and per-row predictions for reports."""

    metrics: dict[str, Any]
    predictions: pd.DataFrame
    """one row per form: row, text, expected, predicted, p1, ic, correct"""

    def per_class(self, nomenclature: Nomenclature) -> pd.DataFrame:
        rows = self.predictions[self.predictions["expected"] != UNCLASSIFIABLE]
        return per_class_f1(list(rows["expected"]), list(rows["predicted"]), nomenclature)


def evaluate_forms(model: CodifModel, labelled: LabelledForms, nomenclature: Nomenclature) -> Evaluation:
    """Metrics of ``model`` on ``labelled`` forms (see :mod:`codif.metrics` for the definitions)."""
    import pandas as pd

    probabilities = model.probabilities(labelled.forms)
    metrics = evaluate_probabilities(probabilities, model.classes, labelled.labels, nomenclature)
    order = np.argsort(-probabilities, axis=1)[:, :2]
    top = np.take_along_axis(probabilities, order, axis=1)
    predicted = [model.classes[i] for i in order[:, 0]]
    predictions = pd.DataFrame(
        {
            "row": labelled.rows,
            "text": [form.description for form in labelled.forms],
            "expected": labelled.labels,
            "predicted": predicted,
            "p1": np.round(np.clip(top[:, 0], 0, 1), 4),
            "ic": np.round(np.clip(top[:, 0] - top[:, 1], 0, 1), 4),
            "correct": [a == b for a, b in zip(labelled.labels, predicted, strict=True)],
        }
    )
    return Evaluation(metrics=metrics, predictions=predictions)


def evaluate_file(model: CodifModel, path: Path | str, nomenclature: Nomenclature) -> Evaluation:
    """:func:`evaluate_forms` on an expert CSV (``gold_dev.csv`` columns; see ``codif.data.COLUMN_ALIASES``).

    Raises:
        MissingDataError, CodifDataError: the file is missing or has bad rows (every one named).
    """
    return evaluate_forms(model, read_labelled_forms(path, nomenclature), nomenclature)


def insee_test_cases(model: CodifModel, nomenclature: Nomenclature, data_dir: Path | str | None = None) -> pd.DataFrame:
    """Insee's 20 test cases (``codif-ape-train/src/tests/tests.yaml``): text, expected, predicted, ic, passed."""
    cases = read_labelled_forms(data_file(INSEE_TESTS_CSV, data_dir), nomenclature)
    evaluation = evaluate_forms(model, cases, nomenclature)
    return evaluation.predictions.drop(columns=["p1"]).rename(columns={"row": "case", "correct": "passed"})
