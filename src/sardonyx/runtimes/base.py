"""The runtime contract: what turns computed values into a running service.

Modelled on JupyterHub's ``Spawner``: one small async interface, swapped by configuration (``local`` runs
supervised processes on this machine; ``kubernetes`` runs ``helm upgrade --install``). The platform's service
layer is the only caller. It computes the values (catalog engine), issues credentials (storage, secrets),
persists every lifecycle transition, and derives the one status a user sees from what the runtime reports.

Semantics every runtime honours:

- ``start`` returns as soon as the service is *requested* (environment building and process start-up go on in
  the background); progress is observable through ``progress`` and ``status``. Calling ``start`` for an id
  that already exists raises ``Conflict``.
- A runtime keeps everything it needs to find its services again in its ``RuntimeStateStore`` (JSON per
  service), so a platform restart neither kills nor forgets running services; ``restore`` is called once at
  start-up with every persisted service.
- ``status`` never raises for a known service: a service whose processes died is ``failed`` with the exit
  reason; an unknown id raises ``NotFound``.
- ``suspend`` stops the processes (or scales to zero) and keeps the working directory/volumes; ``resume``
  starts them again with the same values. ``delete`` stops and removes everything; it is idempotent for a
  service being deleted.
- ``discovery`` gives what a running service publishes to the services launched after it in its project
  (Onyxia's discovery secrets); the platform merges those of the project's running services into the
  ``ServiceSpec.discovery`` of each new launch. ``notes`` gives the rendered post-install notes.
"""

from __future__ import annotations

import abc
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, Protocol


class ServiceStatus(StrEnum):
    """The one status the platform shows for a service (computed on the server, never in a client)."""

    PENDING = "pending"  # requested, nothing started yet
    STARTING = "starting"  # environment being built, or processes started but not ready
    RUNNING = "running"  # ready (readiness probe passes); jobs: still running
    SUSPENDED = "suspended"  # processes stopped on purpose, working directory kept
    STOPPING = "stopping"  # being suspended
    STOPPED = "stopped"  # processes stopped outside a suspend (e.g. the platform was reset)
    SUCCEEDED = "succeeded"  # a job that ran to completion with exit status 0
    FAILED = "failed"  # could not start, crashed, or a job exited non-zero; ``reason``/``message`` say why
    DELETING = "deleting"  # being removed

    @property
    def is_transitioning(self) -> bool:
        return self in {ServiceStatus.PENDING, ServiceStatus.STARTING, ServiceStatus.STOPPING, ServiceStatus.DELETING}


ProgressKind = Literal["requested", "environment", "starting", "ready", "failed"]


@dataclass(frozen=True)
class ProgressEvent:
    """One step of a service's start-up, in words a user understands.

    ``kind``: requested -> environment (building/reusing the virtual environment) -> starting (processes up,
    waiting for the readiness probe) -> ready | failed. ``progress`` is a percentage (0-100). ``timestamp`` is
    seconds since the epoch.
    """

    kind: ProgressKind
    progress: int
    message: str
    timestamp: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "progress": self.progress, "message": self.message, "timestamp": self.timestamp}


@dataclass(frozen=True)
class Task:
    """One unit of execution of a service (a process group locally, a pod on Kubernetes), Onyxia's ``tasks``."""

    id: str
    status: str  # "Running", "Pending", "Succeeded", "Failed", "Terminated"
    reason: str | None = None
    ready: bool = False


@dataclass(frozen=True)
class RuntimeStatus:
    """What a runtime reports about one service.

    ``urls``: where to open the service (first is the main one). ``exit_code``: for ended processes.
    ``reason`` is a short machine-readable cause (``ProcessExited``, ``EnvironmentBuildFailed``,
    ``ReadinessTimeout``, ``PortInUse``, ...); ``message`` is a sentence for the user. ``started_at``: seconds
    since the epoch when the current processes were started. ``suspendable``: whether ``suspend`` applies
    (long-running services; not jobs). ``job``: the service runs to completion (succeeded/failed).
    """

    status: ServiceStatus
    reason: str | None = None
    message: str | None = None
    urls: tuple[str, ...] = ()
    tasks: tuple[Task, ...] = ()
    exit_code: int | None = None
    started_at: float | None = None
    suspendable: bool = False
    job: bool = False


@dataclass(frozen=True)
class ServiceSpec:
    """Everything a runtime needs to start one service.

    Attributes:
        id: the service id (Onyxia's Helm release name, e.g. ``jupyter-python-626146``; RFC 1123, <= 53 chars).
        project: project id (``user-alice``), also the Kubernetes namespace.
        owner: the user's login name.
        catalog_id, chart, version: which chart version this is.
        values: the computed and validated Helm values (what ``helm install -f values.yaml`` would receive).
        recipe: the chart's local recipe (``recipe.yaml`` beside ``Chart.yaml``), raw; None when the chart has
            none (such a chart runs only on a Kubernetes region).
        chart_dir: where the chart's files lie locally (for ``helm`` and for recipe files), when known.
        discovery: environment variables published by sibling services of the project (e.g.
            ``MLFLOW_TRACKING_URI``), as the library chart's discovery secrets would inject them.
        friendly_name: display name chosen by the user.
    """

    id: str
    project: str
    owner: str
    catalog_id: str
    chart: str
    version: str
    values: Mapping[str, Any]
    recipe: Mapping[str, Any] | None = None
    chart_dir: str | None = None
    discovery: Mapping[str, str] = field(default_factory=dict)
    friendly_name: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-serialisable copy (what runtimes persist in their state store)."""
        return {
            "id": self.id,
            "project": self.project,
            "owner": self.owner,
            "catalog_id": self.catalog_id,
            "chart": self.chart,
            "version": self.version,
            "values": _plain(self.values),
            "recipe": None if self.recipe is None else _plain(self.recipe),
            "chart_dir": self.chart_dir,
            "discovery": dict(self.discovery),
            "friendly_name": self.friendly_name,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ServiceSpec:
        """The inverse of ``as_dict``."""
        return cls(
            id=data["id"],
            project=data["project"],
            owner=data["owner"],
            catalog_id=data["catalog_id"],
            chart=data["chart"],
            version=data["version"],
            values=data["values"],
            recipe=data.get("recipe"),
            chart_dir=data.get("chart_dir"),
            discovery=data.get("discovery") or {},
            friendly_name=data.get("friendly_name"),
        )


def _plain(value: Any) -> Any:
    """Mappings and sequences turned into dicts and lists (values may arrive as read-only views)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class RuntimeStateStore(Protocol):
    """Persistence a runtime gets from the platform: one JSON document per service (SQLite by default)."""

    def save(self, service_id: str, state: Mapping[str, Any]) -> None: ...

    def load(self, service_id: str) -> dict[str, Any] | None: ...

    def delete(self, service_id: str) -> None: ...

    def all(self) -> dict[str, dict[str, Any]]: ...


class Runtime(abc.ABC):
    """Base class of runtimes. Subclasses implement every abstract method with the semantics above."""

    kind: str = "abstract"

    @abc.abstractmethod
    async def restore(self) -> None:
        """Re-attach to every service found in the state store (called once when the platform starts)."""

    @abc.abstractmethod
    async def start(self, spec: ServiceSpec) -> None:
        """Request the service; return once requested (start-up continues in the background).

        Raises:
            Conflict: a service with this id exists.
            BadRequest: the spec cannot run on this runtime (e.g. no local recipe).
        """

    @abc.abstractmethod
    async def status(self, service_id: str) -> RuntimeStatus:
        """Current status. Raises ``NotFound`` for an unknown id."""

    @abc.abstractmethod
    def progress(self, service_id: str) -> AsyncIterator[ProgressEvent]:
        """Every progress event since the service was requested, then new ones live, ending after ``ready``
        or ``failed`` (at once when the service already reached one of them)."""

    @abc.abstractmethod
    def logs(self, service_id: str, *, follow: bool = False, tail: int | None = None) -> AsyncIterator[str]:
        """Log lines (without trailing newline) of the service's main task; with ``follow``, new lines as they
        are written until the service stops. ``tail`` limits to the last N lines first."""

    @abc.abstractmethod
    async def suspend(self, service_id: str) -> None:
        """Stop the processes, keep the working directory. Raises ``BadRequest`` if not suspendable."""

    @abc.abstractmethod
    async def resume(self, service_id: str) -> None:
        """Start a suspended service again with the same values."""

    @abc.abstractmethod
    async def delete(self, service_id: str) -> None:
        """Stop and remove the service and everything it owns. Idempotent once deletion has begun."""

    async def discovery(self, service_id: str) -> dict[str, str]:
        """Environment variables this service publishes to the services launched after it in its project, as
        Onyxia's discovery secrets do (ONYXIA-REFERENCE 5.3), e.g. ``{"MLFLOW_TRACKING_URI":
        "http://127.0.0.1:41234"}``; empty unless the service is running. Raises ``NotFound`` for an unknown id.
        The default publishes nothing (a Kubernetes runtime leaves discovery to the charts' ``lookup``)."""
        await self.status(service_id)
        return {}

    async def notes(self, service_id: str) -> str | None:
        """The chart's post-install notes rendered for this service (``templates/NOTES.txt``), or None when the
        chart has none. Raises ``NotFound`` for an unknown id."""
        await self.status(service_id)
        return None

    async def close(self) -> None:  # noqa: B027 - optional hook, most runtimes hold nothing to release
        """Release what the runtime holds in this process (not the services: they keep running)."""
