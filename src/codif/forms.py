"""The contract between codif's model and everything that uses it (evaluation, the API, monitoring).

A *form* is one Sirene registration form: the free-text activity description and the side fields Insee's
production model appends to the text as tokens. A *prediction* is the model's answer for one form: the top-k
NAF rév. 2 subclasses with their labels and probabilities, and the confidence index IC = p1 - p2 (Insee's
production API). Field names follow Insee's API (``codif-ape-API``): ``type_form`` (liasse type), ``nature``
(activity nature, 2 digits), ``surface`` (1-4), ``event`` (e.g. ``01P``), ``cj`` (legal category).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Form:
    """One form to code. ``description`` is the free text; every side field is optional (None = unknown)."""

    description: str
    type_form: str | None = None
    nature: str | None = None
    surface: str | None = None
    event: str | None = None
    cj: str | None = None


@dataclass(frozen=True, slots=True)
class Candidate:
    """One proposed subclass: ``code`` in 5-character NAF form (``4791A``), its French label, probability."""

    code: str
    label: str
    probability: float


@dataclass(frozen=True, slots=True)
class Prediction:
    """The model's answer for one form: candidates by decreasing probability, and IC = p1 - p2.

    p1 and p2 are the model's two highest probabilities whatever ``k`` and ``prob_min`` (so IC, which decides
    automatic coding, does not depend on how many candidates are shown; Insee's API asks for 2 echoes at least to
    compute it), clipped to [0, 1]. ``candidates`` may be empty when no probability reaches ``prob_min``.
    """

    candidates: tuple[Candidate, ...]
    ic: float


class Coder(Protocol):
    """What a trained codif model offers besides the MLflow pyfunc interface (used by the API for speed)."""

    def predict_forms(self, forms: Sequence[Form], k: int = 5, prob_min: float = 0.01) -> list[Prediction]:
        """Code ``forms``: for each, the top-``k`` candidates whose probability is at least ``prob_min``."""
        ...
