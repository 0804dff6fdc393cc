"""The char n-gram TF-IDF model: a linear SVM, class centroids and nearest expert neighbours, fused.

Features (scikit-learn ``TfidfVectorizer``, sublinear TF, rows L2-normalised): character n-grams within word
boundaries (``char_wb``, ``char_min``..``char_max``) of the accent-stripped words, word uni- and bigrams of the
Snowball stems, then a block of side-field tokens scaled by ``side_weight``. Scores for each of the 732 subclasses:

- ``svm``: one-vs-rest linear SVM (``LinearSVC``, squared hinge) on all rows weighted by source, trained on two
  threads (liblinear releases the GIL; each thread learns half of the classes against all other rows, which is
  exactly one-vs-rest); weights under ``coef_threshold`` are dropped to keep the model sparse and fast;
- ``centroid``: cosine similarity to the weighted mean text vector of each subclass (Rocchio);
- ``knn``: for each subclass, the highest cosine similarity to one of its expert-labelled training forms.

Fused score = svm + ``centroid_weight`` * centroid + ``knn_weight`` * knn; probabilities come from a softmax over
the fused scores divided by ``temperature`` (done by :class:`codif.model.CodifModel`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from codif.params import ModelParams

if TYPE_CHECKING:
    import scipy.sparse as sp

_T = TypeVar("_T")

_CACHE_LIMIT = 500_000
_DENSE_ROWS = 4096
"""at most this many feature rows go to the dense (BLAS) block of the product"""
_DENSE_MIN_SHARE = 0.2
"""a feature row with non-zero weights in fewer columns than this share stays sparse (cheaper there)"""
_MIDDLE_MIN_SHARE = 0.05
"""a sparse feature row with non-zero weights in at least this share of the columns is stored dense and multiplied
as ``csr @ dense`` (about 0.17 ns per stored weight against 4 ns per non-zero one in a sparse x sparse product;
on the real model 1,590 rows, 12 MB, carrying 83 % of a batch's sparse multiply-adds)"""


class FastTfidf:
    """``transform`` of a fitted scikit-learn ``TfidfVectorizer`` (``char_wb`` or ``word`` with ``\\S+`` tokens,
    ``sublinear_tf``, ``norm='l2'``, no lower-casing) that caches each word's feature ids: same output as
    scikit-learn's, several times faster on short texts (a unit test checks the equality)."""

    def __init__(self, vectorizer: Any) -> None:
        self.vocabulary: dict[str, int] = dict(vectorizer.vocabulary_)
        self.idf = np.asarray(vectorizer.idf_, dtype=np.float32)
        self.analyzer: str = vectorizer.analyzer
        self.ngram_range: tuple[int, int] = tuple(vectorizer.ngram_range)
        self._cache: dict[str, np.ndarray] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_cache"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._cache = {}

    @property
    def n_features(self) -> int:
        return len(self.idf)

    def _char_ids(self, word: str) -> np.ndarray:
        ids = self._cache.get(word)
        if ids is None:
            padded, (low, high) = f" {word} ", self.ngram_range
            grams: list[str] = []
            for n in range(low, high + 1):
                grams.extend(padded[i : i + n] for i in range(max(1, len(padded) - n + 1)))
                if len(padded) <= n:  # as scikit-learn: a word no longer than n is counted once, whole
                    break
            vocabulary = self.vocabulary
            ids = np.fromiter((vocabulary[g] for g in grams if g in vocabulary), dtype=np.int32)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[word] = ids
        return ids

    def flat_ids(self, documents: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Feature ids of every n-gram occurrence (duplicates kept) and the row each belongs to: two int64 arrays."""
        lengths: list[int] = []
        if self.analyzer == "char_wb":
            parts: list[np.ndarray] = []
            cached, compute = self._cache.get, self._char_ids
            for document in documents:
                count = 0
                for word in document.split():
                    ids = cached(word)
                    if ids is None:
                        ids = compute(word)
                    parts.append(ids)
                    count += len(ids)
                lengths.append(count)
            indices = np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)
        else:
            low, high = self.ngram_range
            vocabulary = self.vocabulary
            flat: list[int] = []
            for document in documents:
                tokens = document.split()
                before = len(flat)
                for n in range(low, high + 1):
                    grams = tokens if n == 1 else [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
                    flat.extend(vocabulary[g] for g in grams if g in vocabulary)
                lengths.append(len(flat) - before)
            indices = np.array(flat, dtype=np.int64)
        return np.repeat(np.arange(len(documents), dtype=np.int64), lengths), indices

    def transform(self, documents: Sequence[str]) -> sp.csr_matrix:
        """TF-IDF rows (L2-normalised), shape (len(documents), n_features), float32."""
        rows, ids = self.flat_ids(documents)
        return _tfidf_rows(
            rows, ids, [(0, self.n_features)], self.idf, n_rows=len(documents), n_features=self.n_features
        )


def _tfidf_rows(
    rows: np.ndarray,
    ids: np.ndarray,
    blocks: Sequence[tuple[int, int]],
    idf: np.ndarray,
    *,
    n_rows: int,
    n_features: int,
) -> sp.csr_matrix:
    """Sublinear TF-IDF of n-gram occurrences, each block of features L2-normalised, then each row (CSR, float32).

    Same values as scikit-learn's ``TfidfVectorizer(sublinear_tf=True)`` per block followed by ``normalize`` of
    the stacked blocks: a row whose k blocks are not empty has each block at norm 1/sqrt(k).
    """
    keys = np.sort(rows * n_features + ids)
    first = np.flatnonzero(np.r_[len(keys) > 0, keys[1:] != keys[:-1]])  # where each distinct key starts
    counts = np.diff(np.r_[first, len(keys)])
    rows, ids = np.divmod(keys[first], n_features)
    values = ((np.log(counts) + 1.0) * idf[ids]).astype(np.float32)
    starts = np.array([first_id for first_id, _ in blocks[1:]], dtype=np.int64)
    block = np.searchsorted(starts, ids, side="right") if len(starts) else np.zeros(len(ids), dtype=np.int64)
    cell = rows * len(blocks) + block
    norms = np.sqrt(np.bincount(cell, weights=np.square(values), minlength=n_rows * len(blocks)))
    nonempty = np.count_nonzero(norms.reshape(n_rows, len(blocks)), axis=1)
    scale = (1.0 / (norms[cell] * np.sqrt(nonempty[rows]))).astype(np.float32)
    return _csr_rows(rows, ids, values * scale, (n_rows, n_features))


@dataclass(frozen=True)
class Prepared:
    """One form as the TF-IDF model reads it: accent-stripped words, stems, side-field tokens."""

    words: str
    stems: str
    side: str


@lru_cache(maxsize=1)
def _blas_pools() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController().select(user_api="blas")


_SCORING_THREADS = min(4, os.cpu_count() or 1)
"""threads scoring the chunks of a large batch (at most 4)"""


@lru_cache(maxsize=1)
def _scoring_pool() -> ThreadPoolExecutor:
    """Threads for the products of a large batch's chunks (scipy's sparsetools and numpy release the GIL there)."""
    return ThreadPoolExecutor(max_workers=_SCORING_THREADS, thread_name_prefix="codif-scoring")


def _csr_rows(rows: np.ndarray, columns: np.ndarray, values: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """A CSR matrix from entries sorted by row (any column order within a row, no duplicates)."""
    import scipy.sparse as sp

    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=shape[0]), out=indptr[1:])
    return sp.csr_matrix((values, columns, indptr), shape=shape)


def _single_threaded_blas() -> Any:
    """A context limiting OpenBLAS to one thread (the controller is built once: it inspects the loaded libraries)."""
    return _blas_pools().limit(limits=1)


def _vectorizers(params: ModelParams) -> tuple[Any, Any]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    char = TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(params.char_min, params.char_max),
        sublinear_tf=True,
        min_df=params.min_df,
        dtype=np.float32,
        lowercase=False,
    )
    word = TfidfVectorizer(
        analyzer="word",
        ngram_range=(1, 2),
        token_pattern=r"\S+",  # noqa: S106 - a regular expression, not a password
        sublinear_tf=True,
        min_df=params.min_df,
        dtype=np.float32,
        lowercase=False,
    )
    return char, word


@dataclass(frozen=True)
class _TailTiers:
    """The sparse feature rows of the weights, split for speed: ``middle`` (dense, the rows with non-zero weights in
    at least ``_MIDDLE_MIN_SHARE`` of the columns) and ``rest`` (CSR, the same shape as the tail with the middle rows
    emptied); ``position`` gives each tail row's row in ``middle``, or -1."""

    position: np.ndarray
    middle: np.ndarray
    rest: sp.csr_matrix

    @classmethod
    def of(cls, tail: sp.csr_matrix) -> _TailTiers:
        lengths = np.diff(tail.indptr)
        middle = np.flatnonzero(lengths >= _MIDDLE_MIN_SHARE * tail.shape[1])
        position = np.full(tail.shape[0], -1, dtype=np.int64)
        position[middle] = np.arange(len(middle))
        rest = tail.copy()
        rest.data[np.repeat(position >= 0, lengths)] = 0.0
        rest.eliminate_zeros()
        return cls(position, np.asarray(tail[middle].toarray(), dtype=np.float32), rest)


class TfidfScorer:
    """Fitted TF-IDF features and the three scorers; ``scores`` gives the fused (n, n_classes) matrix."""

    def __init__(self, params: ModelParams, classes: Sequence[str]) -> None:
        self.params = params
        self.classes = tuple(classes)
        self._index = {code: i for i, code in enumerate(self.classes)}
        self.char, self.word = _vectorizers(params)
        self.side_index: dict[str, int] = {}  # side-field token -> column
        self.side_weights = np.zeros((0, len(self.classes)), dtype=np.float32)  # (n_side_tokens, n_classes)
        self.intercept: np.ndarray = np.zeros(len(self.classes), dtype=np.float32)
        # text features (permuted) x [classes | expert neighbours]: dense head rows, sparse tail (see _products)
        self.permutation: np.ndarray
        self.head_weights: np.ndarray
        self.tail_weights: sp.csr_matrix
        self.neighbour_classes: np.ndarray = np.zeros(0, dtype=np.int64)
        self.fast_char: FastTfidf
        self.fast_word: FastTfidf
        self._tiers: _TailTiers | None = None  # derived from tail_weights, not saved

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_tiers"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._tiers = _TailTiers.of(self.tail_weights) if "tail_weights" in state else None

    # -- features --------------------------------------------------------------------------------------------

    def _text_matrix(self, prepared: Sequence[Prepared], fit: bool = False) -> sp.csr_matrix:
        """Char n-gram and word blocks, each L2-normalised, then each row: (n, n_char + n_word) CSR float32."""
        import scipy.sparse as sp
        from sklearn.preprocessing import normalize

        words = [p.words for p in prepared]
        stems = [p.stems for p in prepared]
        if fit:
            blocks = [self.char.fit_transform(words), self.word.fit_transform(stems)]
            self.fast_char, self.fast_word = FastTfidf(self.char), FastTfidf(self.word)
            return normalize(sp.hstack(blocks, format="csr"))
        n_char = self.fast_char.n_features
        char_rows, char_ids = self.fast_char.flat_ids(words)
        word_rows, word_ids = self.fast_word.flat_ids(stems)
        rows = np.concatenate([char_rows, word_rows])
        ids = np.concatenate([char_ids, word_ids + n_char])
        n_features = n_char + self.fast_word.n_features
        idf = np.concatenate([self.fast_char.idf, self.fast_word.idf])
        blocks = [(0, n_char), (n_char, n_features)]
        return _tfidf_rows(rows, ids, blocks, idf, n_rows=len(prepared), n_features=n_features)

    def _full_matrix(self, text: sp.csr_matrix, prepared: Sequence[Prepared], fit: bool = False) -> sp.csr_matrix:
        """The text block followed by the side-field block (``side_weight`` times an L2-normalised binary row)."""
        import scipy.sparse as sp

        if fit:
            tokens = sorted({token for p in prepared for token in p.side.split()})
            self.side_index = {token: i for i, token in enumerate(tokens)}
        if not self.side_index:
            return text
        return sp.hstack([text, sp.csr_matrix(self._side_matrix(prepared))], format="csr")

    def _side_matrix(self, prepared: Sequence[Prepared]) -> np.ndarray:
        """Side-field tokens known to the model, as rows of norm ``side_weight``: (n, n_side_tokens) float32."""
        rows: list[int] = []
        columns: list[int] = []
        values: list[float] = []
        index, weight = self.side_index, self.params.side_weight
        for row, form in enumerate(prepared):
            known = [index[t] for t in form.side.split() if t in index]
            if known:
                rows.extend([row] * len(known))
                columns.extend(known)
                values.extend([weight / math.sqrt(len(known))] * len(known))
        matrix = np.zeros((len(prepared), len(index)), dtype=np.float32)
        matrix[rows, columns] = values
        return matrix

    # -- training --------------------------------------------------------------------------------------------

    def fit(
        self, prepared: Sequence[Prepared], labels: Sequence[str], weights: np.ndarray, expert: np.ndarray
    ) -> TfidfScorer:
        """Fit on rows ``prepared`` with subclass ``labels``, ``weights`` and the ``expert`` row mask."""
        import scipy.sparse as sp
        from sklearn.preprocessing import normalize

        y = np.array([self._index[code] for code in labels], dtype=np.int64)
        text = self._text_matrix(prepared, fit=True)
        full = self._full_matrix(text, prepared, fit=True)
        n_text, n_char = text.shape[1], len(self.char.vocabulary_)
        onehot = sp.csr_matrix((weights.astype(np.float32), (np.arange(len(y)), y)), shape=(len(y), len(self.classes)))
        centroids = normalize((onehot.T @ text).tocsr()).T.tocsr()  # (n_text, n_classes)
        first = 0 if self.params.svm_features == "all" else n_char
        coef, self.intercept = self._fit_svm(full[:, first:], y, weights)
        svm_text = sp.vstack([sp.csr_matrix((first, len(self.classes)), dtype=np.float32), coef[: n_text - first]])
        text_weights = (svm_text + self.params.centroid_weight * centroids).tocsr().astype(np.float32)
        # small weights barely move a score but make the product slow (frequent n-grams touch every class)
        text_weights.data[np.abs(text_weights.data) < self.params.coef_threshold] = 0.0
        text_weights.eliminate_zeros()
        self.side_weights = coef[n_text - first :].toarray()
        self.neighbour_classes = y[expert]
        counts = np.bincount(y[expert], minlength=len(self.classes)).astype(np.float64)
        if counts.sum() and self.params.prior_weight:
            # how often experts choose each code on real forms (the nomenclature text says nothing of it)
            self.intercept = self.intercept + np.float32(self.params.prior_weight) * np.log(
                (counts + 1.0) / (counts.sum() + len(counts))
            ).astype(np.float32)
        self._prepare_product(text_weights, text[expert].T.tocsr())
        return self

    def _fit_svm(self, matrix: sp.csr_matrix, y: np.ndarray, weights: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
        """One-vs-rest linear SVM on two threads: (sparse coef (n_features, n_classes), intercepts (n_classes,))."""
        import scipy.sparse as sp
        from sklearn.svm import LinearSVC

        present = np.unique(y)
        halves = [present[: len(present) // 2], present[len(present) // 2 :]]

        def fit_half(half: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            target = np.where(np.isin(y, half), y, -1)
            svm = LinearSVC(C=self.params.svm_c, random_state=self.params.seed)
            svm.fit(matrix, target, sample_weight=weights)
            keep = svm.classes_ >= 0
            return svm.classes_[keep], svm.coef_[keep], svm.intercept_[keep]

        with ThreadPoolExecutor(max_workers=2) as pool:
            parts = list(pool.map(fit_half, halves))
        coef = np.zeros((matrix.shape[1], len(self.classes)), dtype=np.float32)
        intercept = np.full(len(self.classes), -1.0, dtype=np.float32)  # classes never seen: always "rest"
        for classes, class_coef, bias in parts:
            coef[:, classes] = class_coef.T
            intercept[classes] = bias
        return sp.csr_matrix(coef), intercept

    def _prepare_product(self, text_weights: sp.csr_matrix, neighbours: sp.csr_matrix) -> None:
        """Lay out the weights for a fast product: the dense rows (frequent n-grams) in a BLAS matrix, the rest sparse.

        The columns are the classes (SVM + centroid weights) then the expert neighbours sorted by class; the feature
        rows are permuted so that the ``_DENSE_ROWS`` busiest come first.
        """
        import scipy.sparse as sp

        order = np.argsort(self.neighbour_classes, kind="stable")
        self.neighbour_classes = self.neighbour_classes[order]
        neighbours = neighbours[:, order].tocsr().astype(np.float32)
        # the smallest TF-IDF values of the expert forms barely move a similarity, and cost as much as the others
        neighbours.data[neighbours.data < self.params.coef_threshold] = 0.0
        neighbours.eliminate_zeros()
        combined = sp.hstack([text_weights, neighbours], format="csr").astype(np.float32)
        busy = np.diff(combined.indptr)
        ranked = np.argsort(-busy, kind="stable")
        head = ranked[: int(np.sum(busy[ranked[:_DENSE_ROWS]] >= _DENSE_MIN_SHARE * combined.shape[1]))]
        rest = np.setdiff1d(np.arange(combined.shape[0]), head)
        self.permutation = np.empty(combined.shape[0], dtype=np.int32)
        self.permutation[np.r_[head, rest]] = np.arange(combined.shape[0], dtype=np.int32)
        self.head_weights = combined[head].toarray()
        self.tail_weights = combined[rest].tocsr()
        self._tiers = _TailTiers.of(self.tail_weights)

    def _products(self, text: sp.csr_matrix) -> np.ndarray:
        """``text @ [class weights | neighbours]``, shape (n, n_classes + n_neighbours), float32.

        Three tiers of feature rows: the busiest in one BLAS product, the fairly busy as ``csr @ dense``, the others
        in a sparse product (see :class:`_TailTiers`). The caller limits OpenBLAS to one thread (its threads cost
        milliseconds to wake on a busy machine: 7 ms instead of 0.03 ms for one form).
        """
        tiers = self._fitted_tiers()
        n_rows, split = text.shape[0], self.head_weights.shape[0]
        rows = np.repeat(np.arange(n_rows), np.diff(text.indptr))
        columns = self.permutation[text.indices]
        head = columns < split
        dense = np.zeros((n_rows, split), dtype=np.float32)
        dense[rows[head], columns[head]] = text.data[head]
        out = np.asarray(dense @ self.head_weights, dtype=np.float32)
        tail = ~head
        rows, columns, values = rows[tail], columns[tail] - split, text.data[tail]
        middle_at = tiers.position[columns]
        middle = middle_at >= 0
        if middle.any():
            shape = (n_rows, len(tiers.middle))
            out += _csr_rows(rows[middle], middle_at[middle], values[middle], shape) @ tiers.middle
        rest = ~middle
        sparse = _csr_rows(rows[rest], columns[rest], values[rest], (n_rows, tiers.rest.shape[0]))
        out += (sparse @ tiers.rest).toarray()
        return out

    def _nearest(self, similarity: np.ndarray) -> np.ndarray:
        """Per class, the best cosine similarity to one of its expert training forms (0 for other classes)."""
        classes = self.neighbour_classes
        best = np.zeros((similarity.shape[0], len(self.classes)), dtype=np.float32)
        if len(classes):
            starts = np.flatnonzero(np.r_[True, classes[1:] != classes[:-1]])
            best[:, classes[starts]] = np.maximum.reduceat(similarity, starts, axis=1)
        return best

    # -- scoring ---------------------------------------------------------------------------------------------

    def _fitted_tiers(self) -> _TailTiers:
        """The tiers of the fitted weights. Raises RuntimeError before :meth:`fit`."""
        if self._tiers is None:
            raise RuntimeError("TfidfScorer used before fit()")
        return self._tiers

    def _fused(self, text: sp.csr_matrix, side: np.ndarray | None) -> np.ndarray:
        """Fused scores of the rows of ``text`` (and of their ``side`` matrix): (n, n_classes) float32."""
        n_classes = len(self.classes)
        products = self._products(text)
        fused = products[:, :n_classes] + self.intercept
        if side is not None:
            fused += side @ self.side_weights
        if self.params.knn_weight:
            fused += self.params.knn_weight * self._nearest(products[:, n_classes:])
        result: np.ndarray = fused
        return result

    def scores(self, prepared: Sequence[Prepared]) -> np.ndarray:
        """Fused scores, shape (len(prepared), n_classes), float32."""
        self._fitted_tiers()
        text = self._text_matrix(prepared)
        side = self._side_matrix(prepared) if self.side_index else None
        with _single_threaded_blas():
            return self._fused(text, side)

    def chunked_scores(self, chunks: Iterable[Sequence[Prepared]], finish: Callable[[np.ndarray], _T]) -> list[_T]:
        """``finish(scores(chunk))`` for every chunk, in order.

        Each chunk's features are built in the calling thread (Python work, under the GIL; ``chunks`` may prepare
        its forms lazily) while the products of the chunks before it run in the scoring threads, which release the
        GIL: on two cores the two kinds of work overlap (1,000 real forms: 121 ms -> 85 ms with 4 chunks).
        Exceptions of ``chunks`` or ``finish`` propagate.
        """
        self._fitted_tiers()
        pool = _scoring_pool()

        def score(text: sp.csr_matrix, side: np.ndarray | None) -> _T:
            return finish(self._fused(text, side))

        with _single_threaded_blas():  # process-wide: the scoring threads' products are single-threaded too
            futures = [
                pool.submit(score, self._text_matrix(chunk), self._side_matrix(chunk) if self.side_index else None)
                for chunk in chunks
            ]
            return [future.result() for future in futures]
