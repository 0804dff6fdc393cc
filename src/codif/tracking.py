"""MLflow: reachability, logging a training run, registering model ``codif``, aliases and promotion.

The tracking server is the one ``MLFLOW_TRACKING_URI`` names (the platform's MLflow service), else MLflow's local
default (``sqlite:///mlflow.db`` in the working directory). Every registered version gets alias ``challenger``;
``codif promote`` moves ``champion`` and keeps the replaced version under ``previous`` for rollback.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, redirect_stdout, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from codif.errors import ModelNotFound, TrackingUnavailable

if TYPE_CHECKING:
    import pandas as pd
    from mlflow.tracking import MlflowClient

    from codif.model import CodifModel
    from codif.pyfunc import CodifPyfunc

MODEL_NAME: Final = "codif"
EXPERIMENT_ENV: Final = "MLFLOW_EXPERIMENT_NAME"
DEFAULT_EXPERIMENT: Final = "codif"
CHALLENGER: Final = "challenger"
CHAMPION: Final = "champion"
PREVIOUS: Final = "previous"
LOWER_IS_BETTER: Final = frozenset({"ece", "brier"})
LOGGED_MODEL_TAG: Final = "codif.logged_model_uri"
"""run tag holding the URI of the model the run logged (``models:/m-...``), to register it later"""

PIP_REQUIREMENTS: Final = (
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "fasttext-numpy2-wheel",
    "snowballstemmer",
    "stop-words",
    "mlflow",
)
"""What loading the pyfunc needs besides the ``codif`` package itself (installed with ``sardonyx[codif]``)."""


def tracking_uri() -> str:
    """The tracking URI MLflow will use (``MLFLOW_TRACKING_URI`` or MLflow's local default)."""
    import mlflow

    return str(mlflow.get_tracking_uri())


def _setting() -> str:
    uri = tracking_uri()
    origin = (
        "MLFLOW_TRACKING_URI"
        if os.environ.get("MLFLOW_TRACKING_URI")
        else "MLflow's default (MLFLOW_TRACKING_URI unset)"
    )
    return f"{uri} ({origin})"


def ensure_reachable(timeout: float = 5.0) -> str:
    """Check that the tracking server answers; return its URI.

    Raises:
        TrackingUnavailable: the server does not answer (the message names MLFLOW_TRACKING_URI and its value).
    """
    uri = tracking_uri()
    if uri.startswith(("http://", "https://")):
        import httpx

        try:
            response = httpx.get(f"{uri.rstrip('/')}/health", timeout=timeout)
        except httpx.HTTPError as error:
            raise TrackingUnavailable(f"MLflow is unreachable at {_setting()}: {error}") from error
        if response.status_code >= 400:
            raise TrackingUnavailable(f"MLflow at {_setting()} answered HTTP {response.status_code} on /health")
        return uri
    try:
        _client().search_experiments(max_results=1)
    except Exception as error:
        raise TrackingUnavailable(f"the MLflow store {_setting()} cannot be used: {error}") from error
    return uri


def _client() -> MlflowClient:
    from mlflow.tracking import MlflowClient

    return MlflowClient()


@contextmanager
def _quiet_mlflow() -> Iterator[None]:
    """Silence MLflow's advice printed while logging a pyfunc (type hints, serving example): not for our users."""
    import logging
    import warnings

    logger = logging.getLogger("mlflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            yield
    finally:
        logger.setLevel(level)


@contextmanager
def _mlflow_errors(action: str) -> Iterator[None]:
    """Turn MLflow's connection errors into :class:`TrackingUnavailable` naming the setting."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as error:
        if error.error_code in {"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"}:
            raise ModelNotFound(f"{action}: {error.message}") from error
        raise TrackingUnavailable(f"{action} failed on {_setting()}: {error.message}") from error
    except (ConnectionError, OSError) as error:
        raise TrackingUnavailable(f"{action} failed on {_setting()}: {error}") from error


def load_pyfunc(uri: str) -> CodifPyfunc:
    """Load the codif pyfunc behind an MLflow model URI and unwrap it.

    Raises:
        ModelNotFound: no model at ``uri`` (or not a codif pyfunc).
        TrackingUnavailable: MLflow cannot be reached.
    """
    import mlflow.pyfunc

    from codif.pyfunc import CodifPyfunc

    if uri.startswith(("models:/", "runs:/")):
        ensure_reachable()
    with _mlflow_errors(f"loading {uri}"):
        loaded = mlflow.pyfunc.load_model(uri)
    wrapper = loaded.unwrap_python_model()
    if not isinstance(wrapper, CodifPyfunc):
        raise ModelNotFound(f"{uri} is not a codif model")
    return wrapper


def metrics_for_mlflow(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Flatten ``codif evaluate``'s JSON into MLflow metrics: ``top1_subclass``, ``auto_coding_accuracy_ic_0.80``..."""
    flat: dict[str, float] = {f"{prefix}n": float(metrics["n"])}
    for group in ("top1", "top5"):
        for level, value in metrics[group].items():
            flat[f"{prefix}{group}_{level}"] = float(value)
    for name in ("macro_f1", "ece", "brier"):
        flat[f"{prefix}{name}"] = float(metrics[name])
    for point in metrics["auto_coding"]:
        threshold = f"{point['threshold']:.2f}"
        flat[f"{prefix}auto_coding_coverage_ic_{threshold}"] = float(point["coverage"])
        if point["accuracy"] is not None:
            flat[f"{prefix}auto_coding_accuracy_ic_{threshold}"] = float(point["accuracy"])
    unclassifiable = metrics["unclassifiable"]
    flat[f"{prefix}unclassifiable_n"] = float(unclassifiable["n"])
    if unclassifiable["mean_ic"] is not None:
        flat[f"{prefix}unclassifiable_mean_ic"] = float(unclassifiable["mean_ic"])
    return flat


@dataclass(frozen=True)
class Registered:
    """What ``codif train`` registered: the version (None when only logged), its URIs and the run."""

    name: str
    version: str | None
    run_id: str
    model_uri: str
    """``models:/codif/<version>``, or the logged model's URI when not registered"""
    logged_uri: str
    """the logged model's own URI (``models:/m-...``)"""


def log_and_register(
    model: CodifModel,
    *,
    params: Mapping[str, Any],
    tags: Mapping[str, str],
    metrics: Mapping[str, float],
    tables: Mapping[str, pd.DataFrame],
    documents: Mapping[str, Any],
    figures: Mapping[str, Path],
    run_name: str | None = None,
    register: bool = True,
    parent_run_id: str | None = None,
) -> Registered:
    """Log one training run, log the pyfunc, register it as ``codif`` and set alias ``challenger``.

    All or nothing: if any step fails, the run is marked FAILED and a model version created on the way is
    deleted, so that no half-registered version is left. With ``register=False`` (a search trial) the model is
    logged with the run but not registered (``version`` is then None). ``parent_run_id`` nests the run under
    another one (MLflow's ``mlflow.parentRunId`` tag), as the trials of ``codif search``.

    Raises:
        TrackingUnavailable: MLflow refused or could not be reached (the setting is named).
    """
    import mlflow

    from codif import mlflow_model as entry
    from codif.pyfunc import INPUT_EXAMPLE, signature

    ensure_reachable()
    client = _client()
    version: str | None = None
    # MLflow prints "View run ... at <url>" on stdout; our stdout is the model URI alone (scripts read it)
    with _mlflow_errors("logging the training run"), redirect_stdout(sys.stderr):
        if not os.environ.get("MLFLOW_RUN_ID"):  # `mlflow run` opened the run (and chose the experiment) for us
            mlflow.set_experiment(os.environ.get(EXPERIMENT_ENV) or DEFAULT_EXPERIMENT)
        with mlflow.start_run(run_name=run_name) as run:
            try:
                # `mlflow run` logged its -P parameters already; MLflow refuses to change a logged value
                logged = client.get_run(run.info.run_id).data.params
                mlflow.log_params({k: str(v) for k, v in params.items() if k not in logged})
                mlflow.set_tags(dict(tags))
                if parent_run_id:
                    mlflow.set_tag("mlflow.parentRunId", parent_run_id)
                mlflow.log_metrics(dict(metrics))
                for name, table in tables.items():
                    mlflow.log_text(table.to_csv(index=False), name)
                for name, document in documents.items():
                    mlflow.log_dict(document, name)
                for path in figures.values():
                    mlflow.log_artifact(str(path))
                with tempfile.TemporaryDirectory(prefix="codif-model-") as folder, _quiet_mlflow():
                    saved = model.save(Path(folder) / "codif-model")
                    info = mlflow.pyfunc.log_model(
                        name="model",
                        python_model=str(Path(entry.__file__)),
                        artifacts={"model": str(saved)},
                        signature=signature(),
                        input_example=INPUT_EXAMPLE,
                        pip_requirements=list(PIP_REQUIREMENTS),
                    )
                mlflow.set_tag(LOGGED_MODEL_TAG, info.model_uri)
                if register:
                    version = register_version(info.model_uri, corpus_hash=str(tags.get("corpus_hash", "")))
            except BaseException:
                if version is not None:
                    with suppress(Exception):  # best effort: the original error matters more
                        client.delete_model_version(MODEL_NAME, version)
                raise
    return Registered(
        name=MODEL_NAME,
        version=version,
        run_id=run.info.run_id,
        model_uri=f"models:/{MODEL_NAME}/{version}" if version else info.model_uri,
        logged_uri=info.model_uri,
    )


def register_version(model_uri: str, *, corpus_hash: str = "") -> str:
    """Register a logged model as a new version of ``codif`` and point ``challenger`` at it; the version.

    If setting the alias fails, the new version is deleted (nothing half-registered).
    """
    import mlflow

    client = _client()
    with _mlflow_errors(f"registering {model_uri}"), _quiet_mlflow():
        registered = mlflow.register_model(model_uri, MODEL_NAME, await_registration_for=120)
    version = str(registered.version)
    try:
        client.set_registered_model_alias(MODEL_NAME, CHALLENGER, version)
        if corpus_hash:
            client.set_model_version_tag(MODEL_NAME, version, "corpus_hash", corpus_hash)
    except BaseException:
        with suppress(Exception):  # best effort: the original error matters more
            client.delete_model_version(MODEL_NAME, version)
        raise
    return version


@dataclass(frozen=True)
class Promotion:
    """What ``codif promote`` did: ``action`` (promoted, kept, rolled-back, nothing) and a sentence."""

    action: str
    message: str
    champion: str | None
    previous: str | None


def _version_by_alias(client: MlflowClient, alias: str) -> Any | None:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(MODEL_NAME, alias)
    except MlflowException as error:
        if error.error_code in {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"}:
            return None
        raise


def _metric(client: MlflowClient, version: Any, metric: str) -> float | None:
    if not version.run_id:
        return None
    value = client.get_run(version.run_id).data.metrics.get(metric)
    return None if value is None else float(value)


def promote(metric: str = "top1_subclass", *, force: bool = False) -> Promotion:
    """Make the challenger the champion when it is better on ``metric`` (a run metric, e.g. ``top1_subclass``).

    Higher is better except for ``ece`` and ``brier``. The replaced champion keeps alias ``previous``. A tie keeps
    the champion. With ``force``, promote without comparing.

    Raises:
        ModelNotFound: there is no challenger.
        TrackingUnavailable: MLflow cannot be reached.
    """
    ensure_reachable()
    client = _client()
    with _mlflow_errors("promoting"):
        challenger = _version_by_alias(client, CHALLENGER)
        if challenger is None:
            raise ModelNotFound(f"model {MODEL_NAME!r} has no @{CHALLENGER}: train one first (`codif train`)")
        champion = _version_by_alias(client, CHAMPION)
        if champion is not None and champion.version == challenger.version:
            return Promotion(
                "nothing", f"version {challenger.version} is already @{CHAMPION}", str(champion.version), None
            )
        if champion is not None and not force:
            new, old = _metric(client, challenger, metric), _metric(client, champion, metric)
            if new is None or old is None:
                missing = challenger.version if new is None else champion.version
                return Promotion(
                    "kept",
                    f"kept @{CHAMPION} = version {champion.version}: version {missing} has no metric {metric!r} "
                    "(use --force to promote without comparing)",
                    str(champion.version),
                    None,
                )
            better = new < old if metric in LOWER_IS_BETTER or metric.endswith(("_ece", "_brier")) else new > old
            if not better:
                return Promotion(
                    "kept",
                    f"kept @{CHAMPION} = version {champion.version}: challenger version {challenger.version} is not "
                    f"better on {metric} ({new:.4f} vs {old:.4f})",
                    str(champion.version),
                    None,
                )
            detail = f" ({metric} {new:.4f} vs {old:.4f})"
        else:
            detail = " (no champion before)" if champion is None else " (forced)"
        client.set_registered_model_alias(MODEL_NAME, CHAMPION, challenger.version)
        if champion is not None:
            client.set_registered_model_alias(MODEL_NAME, PREVIOUS, champion.version)
        previous = str(champion.version) if champion is not None else None
        kept = f"; version {previous} kept as @{PREVIOUS} for rollback" if previous else ""
        return Promotion(
            "promoted",
            f"promoted version {challenger.version} to @{CHAMPION}{detail}{kept}",
            str(challenger.version),
            previous,
        )


def rollback() -> Promotion:
    """Swap ``champion`` and ``previous`` (a second rollback undoes the first).

    Raises:
        ModelNotFound: there is no ``previous`` version to go back to.
    """
    ensure_reachable()
    client = _client()
    with _mlflow_errors("rolling back"):
        previous = _version_by_alias(client, PREVIOUS)
        if previous is None:
            raise ModelNotFound(f"model {MODEL_NAME!r} has no @{PREVIOUS} version to roll back to")
        champion = _version_by_alias(client, CHAMPION)
        client.set_registered_model_alias(MODEL_NAME, CHAMPION, previous.version)
        if champion is not None:
            client.set_registered_model_alias(MODEL_NAME, PREVIOUS, champion.version)
        replaced = f", version {champion.version} is now @{PREVIOUS}" if champion is not None else ""
        return Promotion(
            "rolled-back",
            f"rolled back: @{CHAMPION} = version {previous.version}{replaced}",
            str(previous.version),
            str(champion.version) if champion is not None else None,
        )


def aliases() -> dict[str, str]:
    """``{alias: version}`` of model ``codif`` (empty when it is not registered)."""
    ensure_reachable()
    client = _client()
    from mlflow.exceptions import MlflowException

    try:
        registered = client.get_registered_model(MODEL_NAME)
    except MlflowException:
        return {}
    return {alias: str(version) for alias, version in (registered.aliases or {}).items()}


def dump_json(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2)
