"""The MLflow pyfunc flavour of a codif model: a table of forms in; top-k codes, labels, probabilities and IC out.

The pyfunc carries the saved :class:`codif.model.CodifModel` folder as its ``model`` artifact (preprocessing,
nomenclature labels and scorers inside), so loading it needs only the installed ``codif`` package. For speed,
the API unwraps it and calls the :class:`codif.forms.Coder` method directly::

    coder = mlflow.pyfunc.load_model("models:/codif@champion").unwrap_python_model()
    coder.predict_forms([Form("boulangerie pâtisserie", type_form="C")], k=5, prob_min=0.01)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

import pandas as pd  # at run time: MLflow resolves predict's type hints when the class is created
from mlflow.pyfunc.model import PythonModel

from codif.errors import CodifDataError
from codif.forms import Form, Prediction
from codif.model import CodifModel

if TYPE_CHECKING:
    from mlflow.models.signature import ModelSignature

INPUT_COLUMNS: Final = ("description", "type_form", "nature", "surface", "event", "cj")
DEFAULT_PARAMS: Final[dict[str, Any]] = {"k": 5, "prob_min": 0.01}
INPUT_EXAMPLE: Final[dict[str, list[str]]] = {
    "description": ["Boulangerie pâtisserie"],
    "type_form": ["C"],
    "nature": ["10"],
    "surface": ["1"],
    "event": ["01P"],
    "cj": ["1000"],
}
"""Logged with the model (MLflow checks that the pyfunc answers it)."""


def forms_from_frame(frame: pd.DataFrame) -> list[Form]:
    """Forms from a table with a ``description`` column and optional side-field columns (None/NaN = unknown).

    Raises:
        CodifDataError: no ``description`` column.
    """
    from sardonyx.errors import Violation

    if "description" not in frame.columns:
        raise CodifDataError(
            "the input table has no description column",
            violations=[Violation("description", f"column missing (columns: {', '.join(map(str, frame.columns))})")],
        )

    def value(raw: Any) -> str | None:
        if raw is None or (isinstance(raw, float) and math.isnan(raw)):
            return None
        text = str(raw).strip()
        return text or None

    columns = {name: list(frame[name]) if name in frame.columns else [None] * len(frame) for name in INPUT_COLUMNS}
    return [
        Form(
            description="" if columns["description"][i] is None else str(columns["description"][i]),
            type_form=value(columns["type_form"][i]),
            nature=value(columns["nature"][i]),
            surface=value(columns["surface"][i]),
            event=value(columns["event"][i]),
            cj=value(columns["cj"][i]),
        )
        for i in range(len(frame))
    ]


def predictions_frame(predictions: Sequence[Prediction], k: int) -> pd.DataFrame:
    """One row per form: ``code_i``, ``label_i``, ``probability_i`` for i = 1..k (None past the candidates), ``ic``."""
    import pandas as pd

    data: dict[str, list[Any]] = {}
    for i in range(k):
        data[f"code_{i + 1}"] = [p.candidates[i].code if i < len(p.candidates) else None for p in predictions]
        data[f"label_{i + 1}"] = [p.candidates[i].label if i < len(p.candidates) else None for p in predictions]
        data[f"probability_{i + 1}"] = [
            p.candidates[i].probability if i < len(p.candidates) else None for p in predictions
        ]
    data["ic"] = [p.ic for p in predictions]
    return pd.DataFrame(data)


class CodifPyfunc(PythonModel):
    """``mlflow.pyfunc`` wrapper of a :class:`CodifModel`; also a :class:`codif.forms.Coder`."""

    def __init__(self) -> None:
        self.model: CodifModel | None = None

    def load_context(self, context: Any) -> None:
        self.model = CodifModel.load(context.artifacts["model"])

    def _model(self) -> CodifModel:
        if self.model is None:
            raise RuntimeError("CodifPyfunc used before MLflow loaded its context")
        return self.model

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """Code a table of forms (columns INPUT_COLUMNS; a list of dicts is accepted too).

        Params: ``k`` (number of candidates, default 5), ``prob_min`` (default 0.01).
        Returns one row per form (see :func:`predictions_frame`).

        Raises:
            CodifDataError: no ``description`` column, or an empty description (rows named).
        """
        import pandas as pd

        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        settings = {**DEFAULT_PARAMS, **(params or {})}
        k = int(settings["k"])
        predictions = self.predict_forms(forms_from_frame(frame), k=k, prob_min=float(settings["prob_min"]))
        return predictions_frame(predictions, k)

    def predict_forms(self, forms: Sequence[Form], k: int = 5, prob_min: float = 0.01) -> list[Prediction]:
        """:meth:`CodifModel.predict_forms` (the :class:`codif.forms.Coder` protocol)."""
        return self._model().predict_forms(forms, k=k, prob_min=prob_min)


def signature() -> ModelSignature:
    """Input columns (``description`` required, side fields optional strings) and params ``k``, ``prob_min``."""
    from mlflow.models.signature import ModelSignature
    from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema, TensorSpec

    columns: list[ColSpec | TensorSpec] = [ColSpec("string", "description")]
    columns += [ColSpec("string", name, required=False) for name in INPUT_COLUMNS[1:]]
    inputs = Schema(columns)
    params = ParamSchema(
        [ParamSpec("k", "long", DEFAULT_PARAMS["k"]), ParamSpec("prob_min", "double", DEFAULT_PARAMS["prob_min"])]
    )
    return ModelSignature(inputs=inputs, params=params)
