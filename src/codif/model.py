"""The trained codif model: preprocessing, scorers and the nomenclature labels in one object (a ``Coder``).

:class:`CodifModel` trains from a corpus (``codif.data``), predicts probabilities over the 732 subclasses and
answers :class:`codif.forms.Prediction` objects; it saves to and loads from a folder (``codif-model.json`` plus
the scorers' files), which the MLflow pyfunc (``codif.pyfunc``) carries as its artifact.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

import numpy as np

from codif import __version__
from codif.errors import CodifDataError, ModelNotFound
from codif.fasttext_model import FastTextScorer
from codif.forms import Candidate, Form, Prediction
from codif.linear import Prepared, TfidfScorer
from codif.params import ModelParams, params_from_mapping
from codif.text import side_tokens, stem, stop_words, words
from sardonyx.errors import Violation

if TYPE_CHECKING:
    import pandas as pd

    from codif.nomenclature import Nomenclature

_T = TypeVar("_T")

FORMAT_VERSION: Final = 1
AUTO_TEMPERATURE_EXPERT: Final = 0.2
AUTO_TEMPERATURE: Final = 0.12
MANIFEST: Final = "codif-model.json"
PIPELINE_MIN_FORMS: Final = 128
"""from this many forms a TF-IDF batch is scored in chunks, prepared while the previous ones are multiplied"""
CHUNK_FORMS: Final = 250
"""largest chunk of a pipelined batch (1,000 forms: 4 chunks; 125 or 500 are slower on 2 cores)"""


def prepare(form: Form) -> Prepared:
    """The three views of a form the scorers read (accent-stripped words, stems, side-field tokens)."""
    plain = words(form.description)
    stops = stop_words()
    stems = dict.fromkeys(stem(w) for w in plain if w not in stops)
    return Prepared(words=" ".join(plain), stems=" ".join(stems), side=" ".join(side_tokens(form)))


def check_forms(forms: Sequence[Form]) -> None:
    """Raise :class:`CodifDataError` naming every form (0-based index) whose description has no letter."""
    problems = [
        Violation(f"forms[{i}].description", "empty or without any letter")
        for i, form in enumerate(forms)
        if not isinstance(form.description, str) or not any(ch.isalpha() for ch in form.description)
    ]
    if problems:
        raise CodifDataError(f"{len(problems)} form(s) have no usable description", violations=problems)


def _softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    shifted = scores / temperature
    shifted -= shifted.max(axis=1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=1, keepdims=True)
    return shifted


class CodifModel:
    """A trained NAF coder. Satisfies :class:`codif.forms.Coder`.

    Attributes:
        params: the training parameters.
        classes: the subclasses the model scores, canonical codes in nomenclature order (732).
        labels: French label of every class.
        info: free metadata saved with the model (corpus hash, sizes, codif version).
    """

    def __init__(
        self,
        params: ModelParams,
        classes: Sequence[str],
        labels: dict[str, str],
        *,
        tfidf: TfidfScorer | None = None,
        fasttext: FastTextScorer | None = None,
        info: dict[str, Any] | None = None,
    ) -> None:
        self.params = params
        self.classes = tuple(classes)
        self.labels = dict(labels)
        self.tfidf = tfidf
        self.fasttext = fasttext
        self.info = dict(info or {})
        self._class_labels = [self.labels[c] for c in self.classes]
        self.temperature = float(self.info.get("temperature") or params.temperature or AUTO_TEMPERATURE)

    # -- training --------------------------------------------------------------------------------------------

    @classmethod
    def train(
        cls, corpus: pd.DataFrame, nomenclature: Nomenclature, params: ModelParams, info: dict[str, Any] | None = None
    ) -> CodifModel:
        """Train on a corpus (``codif.data`` columns): the rows' ``weight`` times ``expert_weight`` for experts.

        Raises:
            CodifDataError: the corpus is empty or has labels outside the nomenclature.
        """
        from codif.data import corpus_forms

        if corpus.empty:
            raise CodifDataError("the training corpus is empty")
        bad = nomenclature.invalid_codes(corpus["label"], column="label")
        if bad:
            raise CodifDataError("the corpus has codes outside the nomenclature", violations=bad)
        forms = corpus_forms(corpus)
        labels = [str(code) for code in corpus["label"]]
        expert = (corpus["source"] == "expert").to_numpy() | corpus["source"].str.startswith("expert").to_numpy()
        weights = corpus["weight"].to_numpy(dtype=np.float64) * np.where(expert, params.expert_weight, 1.0)
        model = cls(
            params,
            nomenclature.subclasses,
            {code: nomenclature.label(code) for code in nomenclature.subclasses},
            info=info,
        )
        prepared = [prepare(form) for form in forms]
        if params.model in ("tfidf", "ensemble"):
            model.tfidf = TfidfScorer(params, model.classes).fit(prepared, labels, weights, expert)
        if params.model in ("fasttext", "ensemble"):
            texts = [f"{p.stems} {p.side}".strip() for p in prepared]
            model.fasttext = FastTextScorer(params, model.classes).fit(texts, labels, weights)
        temperature = params.temperature or (AUTO_TEMPERATURE_EXPERT if expert.any() else AUTO_TEMPERATURE)
        model.info.update(
            {
                "rows": len(corpus),
                "expert_rows": int(expert.sum()),
                "codif_version": __version__,
                "temperature": temperature,
            }
        )
        model.temperature = temperature
        return model

    # -- prediction ------------------------------------------------------------------------------------------

    def _fasttext_scorer(self) -> FastTextScorer:
        if self.fasttext is None:
            raise RuntimeError(f"this {self.params.model} model has no fastText scorer")
        return self.fasttext

    def _tfidf_scorer(self) -> TfidfScorer:
        if self.tfidf is None:
            raise RuntimeError(f"this {self.params.model} model has no TF-IDF scorer")
        return self.tfidf

    def _fasttext_texts(self, prepared: Sequence[Prepared]) -> list[str]:
        vocabulary = self._fasttext_scorer().vocabulary
        texts = []
        for p in prepared:
            known = [token for token in p.side.split() if token in vocabulary]
            texts.append(" ".join([p.stems, *known]).strip())
        return texts

    def probabilities(self, forms: Sequence[Form]) -> np.ndarray:
        """Probability of every class for every form, shape (len(forms), len(classes)), float32.

        ``tfidf`` and ``ensemble`` rows sum to 1 (softmax of the fused score / temperature); ``fasttext`` rows are
        fastText's own probabilities (independent sigmoids with ``loss=ova``, as Insee serves them).

        Raises:
            CodifDataError: a description is empty or has no letter (every such form named).
        """
        check_forms(forms)
        if not forms:
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        if self._pipelined(forms):
            return np.vstack(self._chunked(forms, self._softmax_probabilities))
        prepared = [prepare(form) for form in forms]
        if self.params.model == "fasttext":
            return self._fasttext_scorer().probabilities(self._fasttext_texts(prepared))
        scores = self._tfidf_scorer().scores(prepared)
        if self.params.model == "ensemble":
            ft = self._fasttext_scorer().probabilities(self._fasttext_texts(prepared))
            ft /= np.maximum(ft.sum(axis=1, keepdims=True), 1e-12)
            scores = scores + self.temperature * self.params.fasttext_weight * np.log(ft + 1e-6)
        return self._softmax_probabilities(scores)

    def _softmax_probabilities(self, scores: np.ndarray) -> np.ndarray:
        return _softmax(scores, self.temperature).astype(np.float32, copy=False)

    def _pipelined(self, forms: Sequence[Form]) -> bool:
        """Whether ``forms`` is scored in chunks (see :meth:`_chunked`)."""
        return self.params.model == "tfidf" and len(forms) >= PIPELINE_MIN_FORMS

    def _chunked(self, forms: Sequence[Form], finish: Callable[[np.ndarray], _T]) -> list[_T]:
        """``finish(scores)`` of each chunk of ``forms``, in order: 2 chunks or more of at most ``CHUNK_FORMS``, each
        prepared in this thread while the scoring threads multiply the chunks before it."""
        size = -(-len(forms) // max(2, -(-len(forms) // CHUNK_FORMS)))
        chunks = ([prepare(form) for form in forms[i : i + size]] for i in range(0, len(forms), size))
        return self._tfidf_scorer().chunked_scores(chunks, finish)

    def top_k(self, probabilities: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Indices and probabilities of the ``k`` best classes of each row, best first: two (n, k) arrays."""
        k = max(1, min(k, probabilities.shape[1]))
        part = np.argpartition(-probabilities, k - 1, axis=1)[:, :k]
        taken = np.take_along_axis(probabilities, part, axis=1)
        order = np.argsort(-taken, axis=1, kind="stable")
        return np.take_along_axis(part, order, axis=1), np.take_along_axis(taken, order, axis=1)

    def predict_forms(self, forms: Sequence[Form], k: int = 5, prob_min: float = 0.01) -> list[Prediction]:
        """Top-``k`` candidates with probability >= ``prob_min`` for each form, and IC = p1 - p2.

        IC is computed from the model's two best classes whatever ``k`` and ``prob_min`` (Insee's API asks for
        at least 2 echoes to compute it), clipped to [0, 1].

        Raises:
            CodifDataError: a description is empty or has no letter.
        """
        if not self._pipelined(forms):
            return self.predictions_from(self.probabilities(forms), k=k, prob_min=prob_min)
        check_forms(forms)
        wanted = max(k, 2)
        parts = self._chunked(forms, lambda scores: self.top_k(self._softmax_probabilities(scores), wanted))
        indices = np.vstack([part[0] for part in parts])
        values = np.vstack([part[1] for part in parts])
        return self._predictions(indices, values, k, prob_min)

    def predictions_from(self, probabilities: np.ndarray, k: int = 5, prob_min: float = 0.01) -> list[Prediction]:
        """:meth:`predict_forms` from an already computed probability matrix."""
        indices, values = self.top_k(probabilities, max(k, 2))
        return self._predictions(indices, values, k, prob_min)

    def _predictions(self, indices: np.ndarray, values: np.ndarray, k: int, prob_min: float) -> list[Prediction]:
        """Answers from the (n, max(k, 2)) best class indices and probabilities of each form, best first."""
        ic = np.clip(values[:, 0] - values[:, 1], 0.0, 1.0)
        classes, labels = self.classes, self._class_labels
        out: list[Prediction] = []
        # plain Python lists: iterating numpy rows element by element costs more than the model on a large batch
        for row_indices, row_values, row_ic in zip(
            indices[:, :k].tolist(), values[:, :k].tolist(), ic.tolist(), strict=True
        ):
            candidates = tuple(
                Candidate(classes[j], labels[j], p)
                for j, p in zip(row_indices, row_values, strict=True)
                if p >= prob_min
            )
            out.append(Prediction(candidates=candidates, ic=row_ic))
        return out

    # -- persistence -----------------------------------------------------------------------------------------

    def save(self, folder: Path | str) -> Path:
        """Write the model into ``folder`` (created): ``codif-model.json`` plus ``tfidf.pkl`` / ``fasttext.bin``."""
        target = Path(folder)
        target.mkdir(parents=True, exist_ok=True)
        manifest = {
            "format": FORMAT_VERSION,
            "params": self.params.as_dict(),
            "classes": list(self.classes),
            "labels": self.labels,
            "info": self.info,
        }
        (target / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
        if self.tfidf is not None:
            with (target / "tfidf.pkl").open("wb") as handle:
                pickle.dump(self.tfidf, handle, protocol=pickle.HIGHEST_PROTOCOL)
        if self.fasttext is not None:
            self.fasttext.save(target / "fasttext.bin")
        return target

    @classmethod
    def load(cls, folder: Path | str) -> CodifModel:
        """Read a model written by :meth:`save`.

        Raises:
            ModelNotFound: ``folder`` holds no codif model (or one of an unknown format).
        """
        source = Path(folder)
        manifest_path = source / MANIFEST
        if not manifest_path.is_file():
            raise ModelNotFound(f"no codif model in {source} ({MANIFEST} missing)")
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT_VERSION:
            raise ModelNotFound(f"{source}: codif model format {manifest.get('format')!r} is not supported")
        params = params_from_mapping(manifest["params"])
        tfidf = None
        if (source / "tfidf.pkl").is_file():
            with (source / "tfidf.pkl").open("rb") as handle:
                tfidf = pickle.load(handle)  # noqa: S301 - our own artifact, written by save()
        fasttext = None
        if (source / "fasttext.bin").is_file():
            fasttext = FastTextScorer.load(source / "fasttext.bin", params, manifest["classes"])
        return cls(
            params, manifest["classes"], manifest["labels"], tfidf=tfidf, fasttext=fasttext, info=manifest["info"]
        )
