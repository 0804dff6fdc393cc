"""Insee's production model: fastText supervised on cleaned text with the side fields appended as tokens.

Source: ``codif-ape-train@c01f07f`` (CODIF-APE-REFERENCE.md §3.1-3.2): one line per row,
``__label__4791A <cleaned text> TYP_C NAT_10 ...``, trained with ``fasttext.train_supervised``. fastText has no
row weights, so a row of weight w is written round(w) times (at least once). Uses ``fasttext-numpy2-wheel``
(the other fastText wheels fail at ``predict`` with numpy 2).
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from codif.errors import InvalidParameter
from codif.params import ModelParams
from sardonyx.errors import Violation

_PREFIX = "__label__"
_ATTEMPTS = 3
"""A real divergence ("Encountered NaN." at a too high lr) fails every attempt."""

_CHILD = """
import json, sys
import fasttext
try:
    fasttext.train_supervised(input=sys.argv[1], **json.loads(sys.argv[3])).save_model(sys.argv[2])
except RuntimeError as error:
    sys.exit(f"fastText: {error}")
"""


def _load(path: Path) -> Any:
    """``fasttext.load_model`` without its warning about the returned type (printed on stderr at every load)."""
    import fasttext

    with contextlib.redirect_stderr(io.StringIO()):
        return fasttext.load_model(str(path))


def _train_in_child(data: Path, model: Path, arguments: dict[str, Any]) -> str:
    """Train in a fresh Python process; "" on success, else the error.

    fastText 0.9.2 (``fasttext-numpy2-wheel``, and ``fasttext-numpy2`` 0.10.4 alike) keeps state between two
    trainings in one process: the second one and later stop with "Encountered NaN." at random (about half the time
    here, at any lr and on one thread), while the first training of a process always goes through.
    """
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, str(data), str(model), json.dumps(arguments)],
        capture_output=True,
        text=True,
        check=False,
    )
    return "" if result.returncode == 0 else (result.stderr.strip().splitlines() or ["no output"])[-1]


class FastTextScorer:
    """A trained fastText classifier over the subclasses; ``probabilities`` gives (n, n_classes)."""

    def __init__(self, params: ModelParams, classes: Sequence[str], model: Any = None) -> None:
        self.params = params
        self.classes = tuple(classes)
        self._index = {code: i for i, code in enumerate(self.classes)}
        self.model = model
        self._vocabulary: frozenset[str] = frozenset(model.get_words()) if model is not None else frozenset()

    def fit(self, texts: Sequence[str], labels: Sequence[str], weights: np.ndarray) -> FastTextScorer:
        """Train on cleaned ``texts`` (side tokens included) and subclass ``labels``, in a child process."""
        with tempfile.TemporaryDirectory(prefix="codif-fasttext-") as folder:
            path = Path(folder) / "train.txt"
            with path.open("w", encoding="utf-8") as handle:
                for text, label, weight in zip(texts, labels, weights, strict=True):
                    if not text.strip():  # a line with no word makes fastText divide by zero (NaN)
                        continue
                    line = f"{_PREFIX}{label} {text}\n"
                    handle.write(line * max(1, round(float(weight))))
            p = self.params
            failure = ""
            for attempt in range(_ATTEMPTS):
                model_path = Path(folder) / "model.bin"
                failure = _train_in_child(path, model_path, self._arguments(seed=p.seed + attempt))
                if not failure:
                    self.model = _load(model_path)
                    break
            else:
                raise InvalidParameter(
                    f"fastText training failed {_ATTEMPTS} times ({failure}): lower lr, or change dim/bucket",
                    violations=[Violation("lr", f"{p.lr} made the training diverge")],
                )
        self._vocabulary = frozenset(self.model.get_words())
        return self

    def _arguments(self, seed: int) -> dict[str, Any]:
        p = self.params
        return {
            "dim": p.dim,
            "lr": p.lr,
            "epoch": p.epoch,
            "wordNgrams": p.word_ngrams,
            "minn": p.minn,
            "maxn": p.maxn,
            "minCount": p.min_count,
            "bucket": p.bucket,
            "loss": p.loss,
            "thread": p.thread,
            "seed": seed,
            "verbose": 0,
        }

    @property
    def vocabulary(self) -> frozenset[str]:
        """Words (and side tokens) seen in training: unseen side tokens are not sent to the model."""
        return self._vocabulary

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """fastText's probability of every subclass, shape (len(texts), n_classes), float32.

        With ``loss=ova`` these are independent sigmoids (they need not sum to 1), as in Insee's production API.
        """
        if self.model is None:
            raise RuntimeError("FastTextScorer used before fit() or load()")
        out = np.zeros((len(texts), len(self.classes)), dtype=np.float32)
        if not texts:
            return out
        labels, probs = self.model.predict(list(texts), k=-1)
        for row, (names, values) in enumerate(zip(labels, probs, strict=True)):
            columns = [self._index[name[len(_PREFIX) :]] for name in names]
            out[row, columns] = values
        np.clip(out, 0.0, 1.0, out=out)  # ova sigmoids can exceed 1 by rounding (Insee's dashboards clip too)
        return out

    def save(self, path: Path) -> None:
        if self.model is None:
            raise RuntimeError("FastTextScorer used before fit() or load()")
        self.model.save_model(str(path))

    @classmethod
    def load(cls, path: Path, params: ModelParams, classes: Sequence[str]) -> FastTextScorer:
        return cls(params, classes, _load(path))
