"""The served model: where it comes from (MLflow), which version is loaded, and updates without downtime.

:class:`MlflowModelSource` resolves a ``models:/`` URI to one registry version with MLflow's client, downloads
that exact version's artifacts (``models:/<name>/<version>``, so that an alias moving during the download
cannot mix two versions), loads the MLflow pyfunc from the local copy and unwraps its python model, which must
implement :class:`codif.forms.Coder`. Loading from the local copy, not from the ``models:/`` URI, is what Insee's
current API does (``codif-ape-API@2e5a38b``, CODIF-APE-REFERENCE.md section 5.3).

:class:`ModelHolder` keeps the loaded model. Requests read :attr:`ModelHolder.current` once and use that
object to the end, so swapping in a new version (a single attribute assignment) is atomic: a request is
answered wholly by the old version or wholly by the new one. A background thread checks the alias every
``poll_seconds`` (and at once on :meth:`ModelHolder.request_reload`), loads a new version beside the serving one
and swaps it in; a version that fails to load leaves the old one serving and is reported by
:meth:`ModelHolder.status` and the logs.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from codif.forms import Coder, Form
from sardonyx.errors import SardonyxError, UnavailableError

logger = logging.getLogger("codif.serve.model")

_ALIAS_URI = re.compile(r"models:/(?P<name>[^/@]+)@(?P<alias>[^/@]+)")
_VERSION_URI = re.compile(r"models:/(?P<name>[^/@]+)/(?P<version>\d+)")


SMOKE_DESCRIPTION = "Boulangerie pâtisserie"
"""the form every loaded version must code before it is served"""


class ModelLoadError(UnavailableError):
    """The model could not be resolved, downloaded or loaded (MLflow unreachable, unknown alias, bad model)."""

    reason = "model-load-failed"
    title = "Model could not be loaded"


@dataclass(frozen=True)
class ModelRef:
    """One resolved, immutable model: ``name`` and ``version`` in the registry and where to fetch it.

    ``uri`` is the URI asked for (``models:/codif@champion``); ``pinned_uri`` the one downloaded
    (``models:/codif/3``, or the local directory); ``run_id`` the training run when known.
    """

    name: str
    version: str
    uri: str
    pinned_uri: str
    run_id: str | None = None


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to answer: its reference, the coder and how long resolving, downloading and loading took."""

    ref: ModelRef
    coder: Coder
    loaded_at: datetime
    load_seconds: float
    files: Path | None = None
    """The local copy of the model's artifacts the source made, if any (kept while the version is served)."""


class ModelSource(Protocol):
    """Where models come from. :class:`MlflowModelSource` in production; tests give fakes."""

    def resolve(self, uri: str) -> ModelRef:
        """The version ``uri`` designates now. Raises :class:`ModelLoadError`."""
        ...

    def load(self, ref: ModelRef) -> LoadedModel:
        """Download and load ``ref``. Raises :class:`ModelLoadError`."""
        ...

    def release(self, model: LoadedModel) -> None:
        """Free what ``model`` holds outside memory (downloaded files) once it is no longer served."""
        ...


def follows_alias(uri: str) -> bool:
    """True when ``uri`` is ``models:/<name>@<alias>``: the version behind it can move."""
    return _ALIAS_URI.fullmatch(uri) is not None


class MlflowModelSource:
    """Models from the MLflow tracking server in ``MLFLOW_TRACKING_URI`` (or ``tracking_uri``).

    MLflow is imported on first use (importing it costs about 1.5 s and 160 MB; it is needed anyway to
    unpickle the python model). Downloads go to a private temporary directory, one sub-directory per version,
    removed by :meth:`release` once a version is no longer served, and all at :meth:`close`.
    """

    def __init__(self, tracking_uri: str | None = None) -> None:
        self._tracking_uri = tracking_uri
        self._dir = Path(tempfile.mkdtemp(prefix="codif-serve-models-"))
        self._client: Any = None

    def _mlflow_client(self) -> Any:
        if self._client is None:
            import mlflow

            # the URI is given to each call, never set process-wide (``mlflow.set_tracking_uri`` changes the
            # environment of the whole process)
            self._client = mlflow.MlflowClient(tracking_uri=self._tracking_uri, registry_uri=self._tracking_uri)
        return self._client

    def resolve(self, uri: str) -> ModelRef:
        alias = _ALIAS_URI.fullmatch(uri)
        version = _VERSION_URI.fullmatch(uri)
        if alias is None and version is None:
            if uri.startswith(("models:/", "runs:/")):
                raise ModelLoadError(
                    f"unsupported model URI {uri!r}: use models:/<name>@<alias>, models:/<name>/<version> or a "
                    "local MLflow model directory"
                )
            path = Path(uri.removeprefix("file://"))
            if not (path / "MLmodel").is_file():
                raise ModelLoadError(f"{uri!r} is not an MLflow model directory (no MLmodel file in it)")
            return ModelRef(name=str(path), version="local", uri=uri, pinned_uri=str(path))
        if not (self._tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")):
            # MLflow would fall back on a local store, creating ./mlflow.db where the API was started
            raise ModelLoadError(
                f"MLFLOW_TRACKING_URI is not set: point it to the MLflow server holding {uri}, "
                "or give a local MLflow model directory as the model URI"
            )
        try:
            client = self._mlflow_client()
            if alias is not None:
                name = alias["name"]
                mv = client.get_model_version_by_alias(name, alias["alias"])
            elif version is not None:
                name = version["name"]
                mv = client.get_model_version(name, version["version"])
            else:  # unreachable: plain paths were handled above
                raise ModelLoadError(f"unsupported model URI {uri!r}")
        except SardonyxError:
            raise
        except Exception as exc:
            raise ModelLoadError(f"cannot resolve {uri} in MLflow ({self._where()}): {_one_line(exc)}") from exc
        return ModelRef(
            name=name, version=str(mv.version), uri=uri, pinned_uri=f"models:/{name}/{mv.version}", run_id=mv.run_id
        )

    def load(self, ref: ModelRef) -> LoadedModel:
        started = time.perf_counter()
        remote = ref.pinned_uri.startswith("models:/")
        target = self._dir / f"{ref.name}-{ref.version}-{time.monotonic_ns()}"
        try:
            import mlflow.artifacts
            import mlflow.pyfunc

            if remote:
                local = mlflow.artifacts.download_artifacts(
                    artifact_uri=ref.pinned_uri,
                    dst_path=str(target),
                    tracking_uri=self._tracking_uri,
                    registry_uri=self._tracking_uri,
                )
            else:
                local = ref.pinned_uri
            _warn_requirement_mismatches(Path(local))
            # MLflow's own check scans every installed distribution (about a second): ours reads only the model's
            pyfunc = mlflow.pyfunc.load_model(local, suppress_warnings=True)
            python_model = pyfunc.unwrap_python_model()
        except Exception as exc:
            shutil.rmtree(target, ignore_errors=True)
            raise ModelLoadError(
                f"cannot load {ref.pinned_uri} (version {ref.version}) from MLflow ({self._where()}): {_one_line(exc)}"
            ) from exc
        if not callable(getattr(python_model, "predict_forms", None)):
            shutil.rmtree(target, ignore_errors=True)
            raise ModelLoadError(
                f"{ref.pinned_uri} is not a codif model: its python model "
                f"({type(python_model).__qualname__}) has no predict_forms method (codif.forms.Coder)"
            )
        try:  # a model that loads but cannot code a form must not replace one that can (it also warms caches up)
            python_model.predict_forms([Form(SMOKE_DESCRIPTION)], k=1, prob_min=0.0)
        except Exception as exc:
            shutil.rmtree(target, ignore_errors=True)
            raise ModelLoadError(
                f"{ref.pinned_uri} (version {ref.version}) loads but cannot code a test form: {_one_line(exc)}"
            ) from exc
        return LoadedModel(
            ref, python_model, datetime.now(UTC), time.perf_counter() - started, files=target if remote else None
        )

    def release(self, model: LoadedModel) -> None:
        """Remove the downloaded files of a version no longer served."""
        if model.files is not None:
            shutil.rmtree(model.files, ignore_errors=True)

    def close(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)

    def _where(self) -> str:
        return self._tracking_uri or os.environ.get("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_URI not set")


def _warn_requirement_mismatches(model_dir: Path) -> None:
    """Log one warning per requirement of the model (``requirements.txt``) that this environment misses or
    holds in another version: the model may then behave differently than when it was trained."""
    from importlib.metadata import PackageNotFoundError, version

    from packaging.requirements import InvalidRequirement, Requirement

    path = model_dir / "requirements.txt"
    if not path.is_file():
        return
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        try:
            requirement = Requirement(line)
            installed = version(requirement.name)
        except InvalidRequirement:
            continue
        except PackageNotFoundError:
            logger.warning("the model needs %s, which is not installed here", line)
            continue
        if requirement.specifier and not requirement.specifier.contains(installed, prereleases=True):
            logger.warning("the model was saved with %s; %s %s is installed here", line, requirement.name, installed)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 400 else text[:397] + "..."


@dataclass
class ReloadFailure:
    """A version that failed to load: which, why, when."""

    version: str | None
    error: str
    at: datetime


@dataclass
class _ReloadState:
    in_progress: bool = False
    last_check_at: datetime | None = None
    last_failure: ReloadFailure | None = None
    generation: int = 0


class ModelHolder:
    """The model being served, and the background reloader that keeps it in line with the registry alias.

    Args:
        source: where models come from.
        uri: what to serve (``models:/codif@champion``).
        poll_seconds: interval between alias checks; 0 or less: no polling (explicit reloads still work).
    """

    def __init__(self, source: ModelSource, uri: str, poll_seconds: float = 60.0) -> None:
        self._source = source
        self._uri = uri
        self._poll_seconds = poll_seconds
        self._current: LoadedModel | None = None
        self._state = _ReloadState()
        self._lock = threading.Lock()
        self._reload_lock = threading.Lock()
        self._done = threading.Condition(self._lock)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def uri(self) -> str:
        return self._uri

    @property
    def current(self) -> LoadedModel:
        """The model answering now. Read it once per request and keep the object."""
        model = self._current
        if model is None:
            raise ModelLoadError("no model is loaded")
        return model

    def load_initial(self) -> LoadedModel:
        """Resolve and load the model before serving. Raises :class:`ModelLoadError`."""
        ref = self._source.resolve(self._uri)
        model = self._source.load(ref)
        self._current = model
        logger.info(
            "serving %s version %s (%s), loaded in %.2f s", ref.name, ref.version, ref.pinned_uri, model.load_seconds
        )
        return model

    def start(self) -> None:
        """Start the background reloader (idempotent)."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="codif-model-reloader", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def request_reload(self, wait: float | None = None) -> dict[str, Any]:
        """Check the alias now (in the background) and load the version behind it if it is a new one.

        With ``wait`` (seconds), block until that check is over or ``wait`` has passed. Returns
        :meth:`status`.
        """
        with self._lock:
            target = self._state.generation + (2 if self._state.in_progress else 1)
        self._wake.set()
        if self._thread is None:  # no reloader running (tests, or stopped): do it here
            self.reload_now()
        elif wait is not None and wait > 0:
            deadline = time.monotonic() + wait
            with self._done:
                while self._state.generation < target and (left := deadline - time.monotonic()) > 0:
                    self._done.wait(left)
        return self.status()

    def reload_now(self) -> bool:
        """One check: resolve the URI, load and swap in the version if it differs. True when it swapped."""
        with self._reload_lock:
            return self._reload_once()

    def _reload_once(self) -> bool:
        with self._lock:
            self._state.in_progress = True
        swapped = False
        version: str | None = None
        try:
            ref = self._source.resolve(self._uri)
            version = ref.version
            current = self._current
            if current is None or current.ref.version != ref.version or current.ref.run_id != ref.run_id:
                logger.info("loading %s version %s in the background", ref.name, ref.version)
                model = self._source.load(ref)
                self._current = model  # the atomic swap
                swapped = True
                if current is not None:
                    self._source.release(current)
                logger.info(
                    "now serving %s version %s (was %s), loaded in %.2f s",
                    ref.name,
                    ref.version,
                    current.ref.version if current else "none",
                    model.load_seconds,
                )
            failure = None
        except Exception as exc:  # a failed reload must never stop the service: report it, keep serving
            error = exc.message if isinstance(exc, SardonyxError) else _one_line(exc)
            failure = ReloadFailure(version, error, datetime.now(UTC))
            serving = self._current.ref.version if self._current else "none"
            logger.error("model reload failed, version %s still serving: %s", serving, error)
        with self._done:
            self._state.in_progress = False
            self._state.last_check_at = datetime.now(UTC)
            self._state.last_failure = failure
            self._state.generation += 1
            self._done.notify_all()
        return swapped

    def status(self) -> dict[str, Any]:
        """What /health shows: the model served, the reloader's state and the last failure."""
        model = self._current
        with self._lock:
            state = self._state
            failure = state.last_failure
            return {
                "model": None
                if model is None
                else {
                    "name": model.ref.name,
                    "version": model.ref.version,
                    "uri": model.ref.uri,
                    "run_id": model.ref.run_id,
                    "loaded_at": model.loaded_at.isoformat(),
                    "load_seconds": round(model.load_seconds, 3),
                },
                "reload": {
                    "follows_alias": follows_alias(self._uri),
                    "poll_seconds": self._poll_seconds if self._poll_seconds > 0 else None,
                    "in_progress": state.in_progress,
                    "last_check_at": state.last_check_at.isoformat() if state.last_check_at else None,
                    "last_failure": None
                    if failure is None
                    else {"version": failure.version, "error": failure.error, "at": failure.at.isoformat()},
                },
            }

    def _run(self) -> None:
        while not self._stop.is_set():
            timeout = self._poll_seconds if self._poll_seconds > 0 and follows_alias(self._uri) else None
            woken = self._wake.wait(timeout)
            if self._stop.is_set():
                return
            self._wake.clear()
            if woken or timeout is not None:
                self.reload_now()
