"""``codif cv``: k-fold cross-validation of a configuration on expert data, folds grouped by normalised text.

Each fold trains on the nomenclature corpus plus the expert rows of the other folds and predicts the held-out
fold; metrics are computed once on the pooled out-of-fold predictions (every expert form predicted by a model that
never saw it nor any near-duplicate of it), with the per-fold subclass top-1 beside them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from codif.data import assign_folds, nomenclature_corpus, read_labelled_forms
from codif.forms import Form
from codif.metrics import evaluate_probabilities
from codif.model import CodifModel
from codif.nomenclature import UNCLASSIFIABLE, Nomenclature
from codif.params import ModelParams
from codif.text import group_key


def _mean_sd(values: Sequence[float]) -> list[float]:
    """``[mean, sample standard deviation]`` of per-fold figures, rounded to 4 decimals."""
    array = np.asarray(values, dtype=np.float64)
    sd = float(array.std(ddof=1)) if len(array) > 1 else 0.0
    return [round(float(array.mean()), 4), round(sd, 4)]


def cross_validate(
    params: ModelParams,
    expert_files: Sequence[Path | str],
    nomenclature: Nomenclature,
    *,
    folds: int = 5,
    seed: int = 0,
    data_dir: Path | str | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Cross-validated metrics (the ``codif evaluate`` JSON) plus ``folds``, ``fold_top1``, ``fold_top5``, their
    ``[mean, sd]`` across folds (``fold_top1_mean_sd``, ``fold_top5_mean_sd``) and the median ``training_seconds``.

    ``XXXXX`` forms are never trained on; they are predicted with the fold they fall in and reported apart.
    """
    import pandas as pd

    from codif.data import expert_corpus

    base = nomenclature_corpus(nomenclature, data_dir)
    forms: list[Form] = []
    labels: list[str] = []
    for path in expert_files:
        labelled = read_labelled_forms(path, nomenclature)
        forms.extend(labelled.forms)
        labels.extend(labelled.labels)
    groups = [group_key(form.description) for form in forms]
    # the same folds as `codif data build` gives the classifiable rows (same order, same seed)
    classifiable = [i for i, label in enumerate(labels) if label != UNCLASSIFIABLE]
    assigned = assign_folds(
        [groups[i] for i in classifiable], [labels[i] for i in classifiable], folds=folds, seed=seed
    )
    fold_of = np.array([i % folds for i in range(len(forms))])
    fold_of[classifiable] = assigned
    by_group = {groups[i]: fold_of[i] for i in classifiable}
    for i, label in enumerate(labels):
        if label == UNCLASSIFIABLE and groups[i] in by_group:
            fold_of[i] = by_group[groups[i]]
    from codif.data import LabelledForms

    probabilities = np.zeros((len(forms), len(nomenclature.subclasses)), dtype=np.float32)
    fold_top1: list[float] = []
    fold_top5: list[float] = []
    seconds: list[float] = []
    for fold in range(folds):
        train_rows = [i for i in range(len(forms)) if fold_of[i] != fold and labels[i] != UNCLASSIFIABLE]
        test_rows = [i for i in range(len(forms)) if fold_of[i] == fold]
        train_expert = LabelledForms(
            tuple(forms[i] for i in train_rows), tuple(labels[i] for i in train_rows), tuple(train_rows)
        )
        corpus = pd.concat([base, expert_corpus(train_expert, folds=folds)], ignore_index=True)
        started = time.perf_counter()
        model = CodifModel.train(corpus, nomenclature, params)
        seconds.append(time.perf_counter() - started)
        if test_rows:
            probabilities[test_rows] = model.probabilities([forms[i] for i in test_rows])
        scored = [i for i in test_rows if labels[i] != UNCLASSIFIABLE]
        expected = np.array([model.classes.index(labels[i]) for i in scored], dtype=np.int64)
        ranked = np.argsort(-probabilities[scored], axis=1, kind="stable")[:, :5]
        top1 = float(np.mean(ranked[:, 0] == expected)) if scored else 0.0
        fold_top1.append(round(top1, 4))
        fold_top5.append(round(float(np.mean((ranked == expected[:, None]).any(axis=1))) if scored else 0.0, 4))
        if progress is not None:
            progress(
                f"fold {fold + 1}/{folds}: top-1 subclass {top1:.4f} ({len(scored)} forms, "
                f"trained in {seconds[-1]:.1f} s)"
            )
    metrics = evaluate_probabilities(probabilities, nomenclature.subclasses, labels, nomenclature)
    metrics["folds"] = folds
    metrics["fold_top1"] = fold_top1
    metrics["fold_top5"] = fold_top5
    metrics["fold_top1_mean_sd"] = _mean_sd(fold_top1)
    metrics["fold_top5_mean_sd"] = _mean_sd(fold_top5)
    metrics["training_seconds"] = round(float(np.median(seconds)), 2)
    return metrics
