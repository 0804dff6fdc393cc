"""``codif search``: a hyper-parameter search fanned out on the platform, one ``python-job`` service per trial.

Insee fanned its fastText grid out with Argo Workflows, one pod per configuration, every pod running ``mlflow run``
against a shared MLflow (CODIF-APE-REFERENCE.md §8). Here each trial is a ``python-job`` launched through the
platform's REST API (``PUT /my-lab/app``) running ``codif train --no-register --parent-run <id>`` with its drawn
parameters: trials show in ``sardonyx services``, their runs nest under one parent run in MLflow, at most
``parallel`` run at once. The trials hold out expert folds of the corpus and are compared on the metric of those
held-out forms; the best trial's logged model is registered as ``codif`` @challenger.
"""

from __future__ import annotations

import itertools
import random
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

from codif.errors import InvalidParameter, TrackingUnavailable
from codif.params import params_from_mapping
from sardonyx.errors import Violation

SEARCH_SPACES: Final[dict[str, dict[str, Sequence[Any]]]] = {
    "tfidf": {
        "svm_c": (0.1, 0.2, 0.5, 1.0),
        "expert_weight": (1.5, 2.0, 3.0, 4.0),
        "centroid_weight": (0.5, 1.0, 2.0),
        "knn_weight": (0.5, 1.0, 1.5),
        "side_weight": (0.1, 0.3, 0.6),
    },
    "fasttext": {
        # around Insee's paper-era configuration, as its Argo grid (dim, lr, epoch, wordNgrams, loss)
        "dim": (50, 100, 180),
        "lr": (0.1, 0.2, 0.5),
        "epoch": (10, 20, 50),
        "word_ngrams": (1, 2, 3),
        "loss": ("ova", "softmax"),
    },
}
TRIAL_CHART: Final = "python-job"
SEARCH_EXPERIMENT: Final = "codif-search"
DONE: Final = frozenset({"succeeded", "failed", "stopped"})


class Platform(Protocol):
    """What the search needs from the platform (``sardonyx.client.PlatformClient`` has it)."""

    def launch(self, chart: str, **options: Any) -> dict[str, Any]: ...

    def service(self, service_id: str) -> dict[str, Any]: ...

    def logs(self, service_id: str, *, tail: int | None = None) -> str: ...


def draw_configurations(
    trials: int,
    *,
    model: str = "tfidf",
    seed: int = 0,
    space: Mapping[str, Sequence[Any]] | None = None,
    fixed: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """``trials`` distinct configurations drawn at random (without replacement) from the grid of ``space``,
    without the parameters named in ``fixed`` (the user sets those for every trial).

    Raises:
        InvalidParameter: unknown model family, or more trials than the grid has points.
    """
    grid = space if space is not None else SEARCH_SPACES.get(model)
    if grid is None:
        raise InvalidParameter(
            f"no search space for model {model!r}", violations=[Violation("model", f"one of {sorted(SEARCH_SPACES)}")]
        )
    names = sorted(set(grid) - set(fixed))
    points = list(itertools.product(*(grid[name] for name in names)))
    if not 1 <= trials <= len(points):
        raise InvalidParameter(
            f"--trials must be between 1 and {len(points)} (the size of the {model} grid)",
            violations=[Violation("trials", f"got {trials}")],
        )
    chosen = random.Random(seed).sample(points, trials)  # noqa: S311 - a draw of configurations, not a secret
    configurations = [{"model": model, **dict(zip(names, point, strict=True))} for point in chosen]
    for configuration in configurations:
        params_from_mapping(configuration)  # every drawn configuration must be valid
    return configurations


@dataclass
class Trial:
    """One configuration and the service that runs it."""

    number: int
    params: dict[str, Any]
    service_id: str | None = None
    status: str = "waiting"
    message: str = ""
    run_id: str | None = None
    metric: float | None = None


@dataclass
class SearchResult:
    """What the search did: the parent run, every trial, the best one and the version it registered."""

    search_id: str
    parent_run_id: str
    metric: str
    trials: list[Trial] = field(default_factory=list)
    best: Trial | None = None
    version: str | None = None


def trial_command(
    trial: Trial,
    *,
    data: Path,
    data_dir: Path | None,
    holdout_folds: Sequence[int],
    parent_run_id: str,
    tracking_uri: str,
    experiment: str,
    search_id: str,
    base_params: Sequence[str] = (),
) -> list[str]:
    """The argument list a trial's job runs (no shell): ``codif train ... --no-register --parent-run ...``."""
    command = ["codif", "train", "--data", str(data), "--no-register", "--parent-run", parent_run_id]
    command += ["--tracking-uri", tracking_uri, "--experiment", experiment]
    command += ["--run-name", f"{search_id}-trial-{trial.number}"]
    if data_dir is not None:
        command += ["--data-dir", str(data_dir)]
    for fold in holdout_folds:
        command += ["--holdout-fold", str(fold)]
    for pair in [*(f"{k}={v}" for k, v in trial.params.items()), *base_params]:  # fixed parameters win
        command += ["--param", pair]
    return command


@dataclass
class _Search:
    """The state of one search while it runs (see :func:`run_search`)."""

    platform: Platform
    client: Any  # mlflow.tracking.MlflowClient
    experiment_id: str
    result: SearchResult
    command: Callable[[Trial], list[str]]
    requirements: Sequence[str]
    progress: Callable[[str], None]
    running: list[Trial] = field(default_factory=list)

    def launch(self, trial: Trial) -> None:
        service = self.platform.launch(
            TRIAL_CHART,
            friendly_name=f"{self.result.search_id} trial {trial.number}",
            overrides={"environment.requirements": list(self.requirements), "job.command": self.command(trial)},
        )
        trial.service_id, trial.status = str(service["id"]), str(service.get("status", "pending"))
        self.running.append(trial)
        total = len(self.result.trials)
        self.progress(f"trial {trial.number}/{total} launched as {trial.service_id}: {_show(trial)}")

    def poll(self, waiting: int) -> None:
        for trial in list(self.running):
            service = self.platform.service(str(trial.service_id))
            trial.status, trial.message = str(service["status"]), str(service.get("message") or "")
            if trial.status not in DONE:
                continue
            self.running.remove(trial)
            if trial.status != "succeeded":
                tail = self.platform.logs(str(trial.service_id), tail=3).strip().splitlines()
                trial.message = (tail[-1] if tail else trial.message) or trial.status
            total = len(self.result.trials)
            done = total - waiting - len(self.running)
            self.progress(f"trial {trial.number} {trial.status} ({done}/{total} done) {trial.message}".rstrip())

    def collect(self) -> list[Trial]:
        """Read every trial's run and metric from MLflow; the trials that have the metric."""
        from codif.tracking import LOWER_IS_BETTER

        result, parent = self.result, self.result.parent_run_id
        runs = self.client.search_runs(
            [self.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent}'", max_results=1000
        )
        by_name = {run.info.run_name: run for run in runs}
        for trial in result.trials:
            run = by_name.get(f"{result.search_id}-trial-{trial.number}")
            if run is not None and run.info.status == "FINISHED":
                trial.run_id = run.info.run_id
                value = run.data.metrics.get(result.metric)
                trial.metric = None if value is None else float(value)
        scored = [t for t in result.trials if t.metric is not None]
        if scored:
            pick = min if result.metric in LOWER_IS_BETTER else max
            result.best = pick(scored, key=lambda t: t.metric or 0.0)
        return scored

    def register_best(self) -> None:
        from codif.tracking import LOGGED_MODEL_TAG, register_version

        best, parent = self.result.best, self.result.parent_run_id
        if best is None or best.run_id is None:
            return
        uri = self.client.get_run(best.run_id).data.tags.get(LOGGED_MODEL_TAG)
        if uri:
            self.result.version = register_version(uri)
            self.client.set_tag(parent, "codif.registered_version", self.result.version)
            self.progress(f"registered models:/codif/{self.result.version} as @challenger")


def _parent_run(client: Any, tracking_uri: str, search_id: str) -> tuple[str, str]:
    """(experiment id, run id) of a new parent run in experiment ``codif-search``."""
    try:
        experiment = client.get_experiment_by_name(SEARCH_EXPERIMENT)
        experiment_id = (
            experiment.experiment_id if experiment is not None else client.create_experiment(SEARCH_EXPERIMENT)
        )
        parent = client.create_run(experiment_id, run_name=search_id, tags={"codif.search": search_id})
    except Exception as error:
        raise TrackingUnavailable(f"MLflow at {tracking_uri} cannot be used for the search: {error}") from error
    return str(experiment_id), str(parent.info.run_id)


def run_search(
    platform: Platform,
    configurations: Sequence[dict[str, Any]],
    *,
    data: Path,
    data_dir: Path | None = None,
    holdout_folds: Sequence[int] = (0,),
    parallel: int = 2,
    metric: str = "top1_subclass",
    tracking_uri: str,
    requirements: Sequence[str] = ("sardonyx[codif]",),
    base_params: Sequence[str] = (),
    poll_seconds: float = 2.0,
    timeout_seconds: float = 3600.0,
    register: bool = True,
    progress: Callable[[str], None] = print,
) -> SearchResult:
    """Run every configuration as its own ``python-job``, ``parallel`` at a time; register the best.

    Raises:
        InvalidParameter: ``parallel`` under 1.
        TrackingUnavailable: MLflow cannot be reached.
        TimeoutError: trials still running after ``timeout_seconds`` (the parent run is marked FAILED).
    """
    import mlflow
    from mlflow.tracking import MlflowClient

    if parallel < 1:
        raise InvalidParameter("--parallel must be at least 1", violations=[Violation("parallel", str(parallel))])
    mlflow.set_tracking_uri(tracking_uri)  # the registration of the best trial goes there too
    client = MlflowClient(tracking_uri=tracking_uri)
    search_id = f"search-{uuid.uuid4().hex[:8]}"
    experiment_id, parent_id = _parent_run(client, tracking_uri, search_id)
    for name, value in (("trials", len(configurations)), ("parallel", parallel), ("metric", metric)):
        client.log_param(parent_id, name, value)
    client.log_param(parent_id, "holdout_folds", ",".join(map(str, holdout_folds)))
    result = SearchResult(search_id, parent_id, metric, [Trial(i + 1, dict(c)) for i, c in enumerate(configurations)])

    def command(trial: Trial) -> list[str]:
        return trial_command(
            trial,
            data=data,
            data_dir=data_dir,
            holdout_folds=holdout_folds,
            parent_run_id=parent_id,
            tracking_uri=tracking_uri,
            experiment=SEARCH_EXPERIMENT,
            search_id=search_id,
            base_params=base_params,
        )

    search = _Search(platform, client, experiment_id, result, command, requirements, progress)
    progress(f"{search_id}: {len(result.trials)} trials, {parallel} at a time; MLflow parent run {parent_id}")
    deadline = time.monotonic() + timeout_seconds
    pending = list(result.trials)
    try:
        while pending or search.running:
            while pending and len(search.running) < parallel:
                search.launch(pending.pop(0))
            time.sleep(poll_seconds)
            search.poll(len(pending))
            if time.monotonic() > deadline:
                raise TimeoutError(f"{search_id}: trials still running after {timeout_seconds:g} s")
        scored = search.collect()
        if result.best is not None:
            best = result.best
            client.log_metric(parent_id, f"best_{metric}", float(best.metric or 0.0))
            client.set_tag(parent_id, "codif.best_trial", str(best.number))
            client.set_tag(parent_id, "codif.best_run_id", str(best.run_id))
            progress(f"best: trial {best.number} {metric}={best.metric:.4f} {_show(best)}")
            if register:
                search.register_best()
        _terminate(client, parent_id, "FINISHED" if scored else "FAILED")
    except BaseException:
        _terminate(client, parent_id, "FAILED")
        raise
    return result


def _terminate(client: Any, run_id: str, status: str) -> None:
    # MLflow prints "View run ... at <url>" on stdout, which is the command's result (the model URI) alone
    with redirect_stdout(sys.stderr):
        client.set_terminated(run_id, status)


def _show(trial: Trial) -> str:
    return " ".join(f"{k}={v}" for k, v in trial.params.items() if k != "model")
