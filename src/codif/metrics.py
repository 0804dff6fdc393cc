"""Quality metrics of a coder on expert-labelled forms: what ``codif evaluate`` prints and every run logs.

- top-1 accuracy at the 5 NAF levels (the parent of the predicted subclass equals the expert's), top-5 at subclass
  level (Insee's figures, CODIF-APE-REFERENCE.md §4.1);
- macro-F1 over subclasses (scikit-learn ``f1_score(average="macro")``: every subclass that is either true or
  predicted counts, zero when it has no correct prediction);
- calibration: ECE, the expected calibration error of the top-1 probability over 15 equal-width bins (as
  torchmetrics' ``MulticlassCalibrationError``, used by Insee's torch models), and the multiclass Brier score
  ``mean_i sum_c (p_ic - y_ic)^2`` (0 is perfect, 2 the worst);
- the auto-coding curve: for each IC threshold t, the share of forms with IC = p1 - p2 >= t (coded automatically,
  Insee's rule) and the top-1 accuracy among them;
- unclassifiable forms (expert code ``XXXXX``) apart: how many, their mean p1 and IC, and the share of them that
  each threshold would code automatically (each one is a wrong automatic code).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from codif.nomenclature import LEVELS, UNCLASSIFIABLE, Nomenclature

if TYPE_CHECKING:
    import pandas as pd

IC_THRESHOLDS: Final = tuple(round(0.05 * i, 2) for i in range(20))
"""0.00, 0.05, ..., 0.95"""
ECE_BINS: Final = 15


def _round(value: Any) -> float:
    return round(float(value), 4)


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE = sum_b |B_b|/n * |accuracy(B_b) - mean confidence(B_b)| over equal-width bins of ``confidence``."""
    if len(confidence) == 0:
        return 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(np.clip(confidence, 0.0, 1.0), edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            total += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(total)


def brier_score(probabilities: np.ndarray, truth: np.ndarray) -> float:
    """Multiclass Brier score: mean over rows of sum over classes of (p - 1[true class])^2."""
    if len(truth) == 0:
        return 0.0
    squared = np.square(probabilities.astype(np.float64)).sum(axis=1)
    rows = np.arange(len(truth))
    return float(np.mean(squared - 2 * probabilities[rows, truth] + 1.0))


def auto_coding_curve(
    ic: np.ndarray, correct: np.ndarray, thresholds: Sequence[float] = IC_THRESHOLDS
) -> list[dict[str, float | None]]:
    """``[{threshold, coverage, accuracy}]``: share with IC >= threshold and their accuracy (None when none)."""
    curve: list[dict[str, float | None]] = []
    for threshold in thresholds:
        kept = ic >= threshold - 1e-9
        coverage = float(kept.mean()) if len(ic) else 0.0
        accuracy = float(correct[kept].mean()) if kept.any() else None
        curve.append(
            {
                "threshold": threshold,
                "coverage": _round(coverage),
                "accuracy": None if accuracy is None else _round(accuracy),
            }
        )
    return curve


def evaluate_probabilities(
    probabilities: np.ndarray,
    classes: Sequence[str],
    labels: Sequence[str],
    nomenclature: Nomenclature,
    *,
    thresholds: Sequence[float] = IC_THRESHOLDS,
) -> dict[str, Any]:
    """Every metric for forms with expert ``labels`` (canonical codes or ``XXXXX``) and model ``probabilities``.

    Args:
        probabilities: (n, len(classes)) probability of every class for every form.
        classes: the model's classes (canonical subclasses), the columns of ``probabilities``.
        labels: n expert codes; ``XXXXX`` rows are reported under ``unclassifiable`` only.

    Returns:
        The JSON object of ``codif evaluate --json`` (see the module docstring); ``n`` counts classifiable forms.
    """
    from sklearn.metrics import f1_score

    labels_array = np.asarray(labels, dtype=object)
    unclassifiable = labels_array == UNCLASSIFIABLE
    order = np.argsort(-probabilities, axis=1)[:, :5]
    top = np.take_along_axis(probabilities, order[:, :2], axis=1) if probabilities.shape[1] >= 2 else None
    p1 = np.clip(top[:, 0], 0.0, 1.0) if top is not None else np.ones(len(labels_array))
    ic = np.clip(top[:, 0] - top[:, 1], 0.0, 1.0) if top is not None else np.ones(len(labels_array))
    class_array = np.asarray(classes, dtype=object)
    predicted = class_array[order[:, 0]] if len(labels_array) else np.zeros(0, dtype=object)

    ok = ~unclassifiable
    truth, guess = labels_array[ok], predicted[ok]
    index = {code: i for i, code in enumerate(classes)}
    truth_index = np.array([index[code] for code in truth], dtype=np.int64)
    correct = guess == truth
    top1 = {}
    for level in LEVELS:
        parents = {code: nomenclature.ancestry[code][level] for code in nomenclature.subclasses}
        top1[level] = (
            _round(np.mean([parents[a] == parents[b] for a, b in zip(truth, guess, strict=True)]))
            if len(truth)
            else 0.0
        )
    in_top5 = [code in set(class_array[row]) for code, row in zip(truth, order[ok], strict=True)]
    result: dict[str, Any] = {
        "n": int(ok.sum()),
        "top1": top1,
        "top5": {"subclass": _round(np.mean(in_top5)) if in_top5 else 0.0},
        "macro_f1": _round(f1_score(truth, guess, average="macro", zero_division=0)) if len(truth) else 0.0,
        "ece": _round(expected_calibration_error(p1[ok], correct)),
        "brier": _round(brier_score(probabilities[ok], truth_index)),
        "auto_coding": auto_coding_curve(ic[ok], correct, thresholds),
        "unclassifiable": {
            "n": int(unclassifiable.sum()),
            "mean_p1": _round(p1[unclassifiable].mean()) if unclassifiable.any() else None,
            "mean_ic": _round(ic[unclassifiable].mean()) if unclassifiable.any() else None,
            "auto_coded": [
                {
                    "threshold": t,
                    "share": _round((ic[unclassifiable] >= t - 1e-9).mean()) if unclassifiable.any() else 0.0,
                }
                for t in thresholds
            ],
        },
    }
    return result


def per_class_f1(truth: Sequence[str], predicted: Sequence[str], nomenclature: Nomenclature) -> pd.DataFrame:
    """One row per subclass seen in ``truth`` or ``predicted``: code, label, support, precision, recall, f1."""
    import pandas as pd
    from sklearn.metrics import precision_recall_fscore_support

    codes = sorted(set(truth) | set(predicted))
    precision, recall, f1, support = precision_recall_fscore_support(
        list(truth), list(predicted), labels=codes, zero_division=0
    )
    return pd.DataFrame(
        {
            "code": codes,
            "label": [nomenclature.labels.get(code, "") for code in codes],
            "support": support,
            "precision": np.round(precision, 4),
            "recall": np.round(recall, 4),
            "f1": np.round(f1, 4),
        }
    ).sort_values(["support", "code"], ascending=[False, True], ignore_index=True)


def plot_auto_coding(curve: list[dict[str, float | None]], title: str, path: str) -> None:
    """Save the auto-coding curve (accuracy of automatic codes against the share coded automatically) as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = [
        (float(p["coverage"] or 0.0), float(p["accuracy"]), float(p["threshold"] or 0.0))
        for p in curve
        if p["accuracy"] is not None
    ]
    figure, axis = plt.subplots(figsize=(6, 4.5), dpi=100)
    axis.plot([p[0] for p in points], [p[1] for p in points], marker="o", markersize=3)
    for coverage, accuracy, threshold in points[::4]:
        axis.annotate(
            f"IC≥{threshold:.2f}", (coverage, accuracy), fontsize=7, xytext=(4, 4), textcoords="offset points"
        )
    axis.set_xlabel("share coded automatically (IC ≥ threshold)")
    axis.set_ylabel("top-1 subclass accuracy of automatic codes")
    axis.set_xlim(0, 1.02)
    axis.set_ylim(0, 1.02)
    axis.grid(alpha=0.3)
    axis.set_title(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
