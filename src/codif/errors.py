"""codif's expected errors: subclasses of :class:`sardonyx.errors.SardonyxError` carrying every violation.

The CLI prints the message and one line per violation (``row 12: description: empty``) without a traceback.
"""

from __future__ import annotations

from sardonyx.errors import BadRequest, NotFound, UnavailableError


class CodifDataError(BadRequest):
    """Input data that cannot be used as it is: missing columns, empty descriptions, unknown codes.

    ``violations`` name the file and the row (1-based, header excluded) or the column of every problem found.
    """

    reason = "codif-bad-data"
    title = "Invalid codif data"


class UnknownCodeError(CodifDataError):
    """A code that is not a NAF rév. 2 code at the expected level."""

    reason = "codif-unknown-code"
    title = "Unknown NAF code"


class MissingDataError(NotFound):
    """A data file codif needs is not where the settings say (``CODIF_DATA_DIR``, ``--data-dir``)."""

    reason = "codif-missing-data"
    title = "codif data not found"


class TrackingUnavailable(UnavailableError):
    """MLflow (``MLFLOW_TRACKING_URI``) cannot be reached or refused the request."""

    reason = "codif-tracking-unavailable"
    title = "MLflow unreachable"


class ModelNotFound(NotFound):
    """A model URI (``models:/codif@champion``, ``runs:/...``, a path) that does not resolve to a codif model."""

    reason = "codif-model-not-found"
    title = "Model not found"


class InvalidParameter(BadRequest):
    """A training or search parameter that is unknown or has a value of the wrong type or range."""

    reason = "codif-invalid-parameter"
    title = "Invalid parameter"
