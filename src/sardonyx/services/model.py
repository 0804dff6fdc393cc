"""What the service layer takes and gives: launch requests, service views, service events.

Each view renders itself in Onyxia's JSON shape (``as_onyxia``), which the REST API serves and the CLI and web
UI read; the Python objects are what in-process callers (web pages) use directly.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sardonyx.runtimes.base import ServiceStatus, Task


@dataclass(frozen=True)
class LaunchRequest:
    """One launch, as the CLI, the REST API (``PUT /my-lab/app``) and the web UI ask for it.

    Attributes:
        chart: chart name (Onyxia ``packageName``).
        catalog_id: catalog id (``catalogId``); None searches every catalog (an error if several have it).
        version: chart version (``packageVersion``); None takes the default version.
        name: the service id (Onyxia's release ``name``); None generates ``<chart>-<6 digits>``.
        friendly_name: display name; default: the chart name.
        share: Onyxia's ``share`` (visible to the project's members).
        options: values, full (what Onyxia's UI sends) or partial, deep-merged over the computed defaults.
        set_options: ``path=text`` overrides typed by the schema (``--set``), applied after ``options``.
        overrides: ``path -> typed JSON value`` overrides, applied last.
        project: project id (Onyxia's ``ONYXIA-PROJECT``); None is the personal project.
        one_time_password: ``service.oneTimePassword`` of the launch context, when a launcher session drew it
            and showed the values derived from it (Onyxia computes the context once per launcher session and
            launches with what the form showed); 16-128 letters and digits. None draws a new one.
        random_subdomain: ``k8s.randomSubdomain`` of that launcher session (1-6 digits); the service id is then
            ``<chart>-<subdomain>`` when free, Onyxia's release name. None draws a new one.
    """

    chart: str
    catalog_id: str | None = None
    version: str | None = None
    name: str | None = None
    friendly_name: str | None = None
    share: bool = False
    options: Mapping[str, Any] | None = None
    set_options: Sequence[str] = ()
    overrides: Mapping[str, Any] = field(default_factory=dict)
    project: str | None = None
    one_time_password: str | None = field(default=None, repr=False)
    random_subdomain: str | None = None


@dataclass(frozen=True)
class LaunchPreview:
    """A launch computed but not started (``dryRun``): the id it would get, the values, equivalent commands."""

    service_id: str
    catalog_id: str
    chart: str
    version: str
    project: str
    values: Mapping[str, Any]
    helm_commands: list[str]
    sardonyx_command: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.service_id,
            "catalogId": self.catalog_id,
            "packageName": self.chart,
            "packageVersion": self.version,
            "namespace": self.project,
            "values": dict(self.values),
            "commands": {"helm": self.helm_commands, "sardonyx": self.sardonyx_command},
        }


def flatten_values(values: Any, prefix: str = "") -> dict[str, str]:
    """Values as Onyxia's ``env``: dotted paths (``security.password``, ``extraEnvVars[0].name``) -> text
    (booleans ``true``/``false``, null ``null``); an empty object or list is kept as ``{}``/``[]``."""
    flat: dict[str, str] = {}
    _flatten_into(flat, values, prefix)
    return flat


def _flatten_into(flat: dict[str, str], value: Any, path: str) -> None:
    if isinstance(value, dict):
        if not value and path:
            flat[path] = "{}"
        for key, item in value.items():
            _flatten_into(flat, item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        if not value and path:
            flat[path] = "[]"
        for index, item in enumerate(value):
            _flatten_into(flat, item, f"{path}[{index}]")
    elif value is True:
        flat[path] = "true"
    elif value is False:
        flat[path] = "false"
    elif value is None:
        flat[path] = "null"
    elif isinstance(value, str):
        flat[path] = value
    else:
        flat[path] = str(value)


def service_password(values: Mapping[str, Any], env: Mapping[str, str] | None = None) -> str | None:
    """The password a user types to open the service: ``security.password`` when set, else the last value
    whose key ends with ``password`` (the rule of Onyxia's "copy password" button, ONYXIA-REFERENCE 1.8).
    ``env`` is ``flatten_values(values)`` when the caller has it."""
    security = values.get("security")
    if isinstance(security, Mapping) and isinstance(security.get("password"), str) and security["password"]:
        return str(security["password"])
    found: str | None = None
    for path, text in (env if env is not None else flatten_values(values)).items():
        if path.lower().endswith("password") and text and text not in {"null", "{}", "[]"}:
            found = text
    return found


def _iso(timestamp: float | None) -> str | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC).isoformat()


_HELM_STATUS = {
    ServiceStatus.PENDING: "pending-install",
    ServiceStatus.STARTING: "deployed",
    ServiceStatus.RUNNING: "deployed",
    ServiceStatus.SUSPENDED: "deployed",
    ServiceStatus.STOPPING: "deployed",
    ServiceStatus.STOPPED: "deployed",
    ServiceStatus.SUCCEEDED: "deployed",
    ServiceStatus.FAILED: "failed",
    ServiceStatus.DELETING: "uninstalling",
}


@dataclass(frozen=True)
class ServiceView:
    """One service as users see it: the record the platform keeps plus the live status from the runtime.

    ``status`` is the one status computed on the server (``ServiceStatus``), with ``reason`` (machine-readable
    cause) and ``message`` (a sentence). Times are seconds since the epoch.
    """

    id: str
    project: str
    owner: str
    catalog_id: str
    chart: str
    version: str
    friendly_name: str
    share: bool
    status: ServiceStatus
    reason: str | None
    message: str | None
    values: Mapping[str, Any]
    created_at: float
    updated_at: float
    urls: tuple[str, ...] = ()
    tasks: tuple[Task, ...] = ()
    started_at: float | None = None
    exit_code: int | None = None
    suspendable: bool = False
    job: bool = False
    notes: str | None = None
    env: Mapping[str, str] | None = None
    """``flatten_values(values)`` when the caller already has it (the service layer caches it per service)."""
    login_query: str | None = None
    """The query parameter that logs into the service with its password (the chart's ``sardonyx.dev/login-query``
    annotation: ``token`` for JupyterLab), None when its URL needs no login or the service logs in its own way."""

    @property
    def login_url(self) -> str | None:
        """The URL that opens the service logged in (``<url>?token=<password>``), else its plain URL."""
        url, password = self.url, self.password
        if url is None or not self.login_query or not password:
            return url
        from urllib.parse import urlencode

        return f"{url}{'&' if '?' in url else '?'}{urlencode({self.login_query: password})}"

    @property
    def suspended(self) -> bool:
        """Suspended, or being suspended (Onyxia's ``suspended``: ``global.suspend`` is true)."""
        return self.status in {ServiceStatus.SUSPENDED, ServiceStatus.STOPPING}

    @property
    def url(self) -> str | None:
        """The main URL (the first), None when the service has none (jobs) or is not running."""
        return self.urls[0] if self.urls else None

    @property
    def password(self) -> str | None:
        return service_password(self.values)

    def as_onyxia(self) -> dict[str, Any]:
        """Onyxia's ``Service`` JSON plus the platform's own fields (``status`` is the server-computed status;
        ``helmStatus`` what ``helm ls`` would say; ``reason``, ``message``, ``exitCode``, ``password``, ...)."""
        started = self.started_at or self.created_at
        env = self.env if self.env is not None else flatten_values(self.values)
        data: dict[str, Any] = {
            "id": self.id,
            "name": self.id,
            "subtitle": self.chart,
            "chart": f"{self.chart}-{self.version}",
            "chartName": self.chart,
            "version": self.version,
            "revision": "1",
            "namespace": self.project,
            "project": self.project,
            "status": self.status.value,
            "reason": self.reason,
            "message": self.message,
            "helmStatus": _HELM_STATUS[self.status],
            "updated": _iso(self.updated_at),
            "createdAt": int(self.created_at * 1000),
            "startedAt": int(started * 1000),
            "urls": list(self.urls),
            "env": dict(env),
            "tasks": [
                {
                    "id": task.id,
                    "status": {"status": task.status, "reason": task.reason},
                    "containers": [{"name": self.chart, "ready": task.ready}],
                }
                for task in self.tasks
            ],
            "suspendable": self.suspendable,
            "suspended": self.suspended,
            "job": self.job,
            "exitCode": self.exit_code,
            "catalogId": self.catalog_id,
            "owner": self.owner,
            "friendlyName": self.friendly_name,
            "share": self.share,
            "password": service_password(self.values, env),
            "loginUrl": self.login_url,
        }
        if self.notes is not None:
            data["postInstallInstructions"] = self.notes
        return data


_WARNING_STATUSES = {ServiceStatus.FAILED.value}


@dataclass(frozen=True)
class ServiceEvent:
    """One lifecycle transition of a service, as the events stream publishes it.

    ``seq`` orders events across all services (resume a stream after the last one seen).
    """

    seq: int
    service_id: str
    project: str
    status: str
    reason: str | None
    message: str | None
    at: float = field(default_factory=time.time)

    @property
    def type(self) -> str:
        """Kubernetes event type: ``Warning`` for failures, else ``Normal``."""
        return "Warning" if self.status in _WARNING_STATUSES else "Normal"

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "serviceId": self.service_id,
            "project": self.project,
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
            "type": self.type,
            "at": self.at,
        }

    def as_kubernetes_event(self) -> dict[str, Any]:
        """The event as a Kubernetes ``v1 Event`` (what Onyxia's ``/my-lab/events`` streams, ONYXIA-REFERENCE 10):
        ``metadata.uid`` unique per event, ``involvedObject`` the service, ``reason`` its status or cause."""
        created = datetime.fromtimestamp(self.at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{self.service_id}.{self.seq}",
                "namespace": self.project,
                "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"sardonyx:{self.project}:{self.seq}:{self.at}")),
                "creationTimestamp": created,
            },
            "involvedObject": {"kind": "Service", "name": self.service_id, "namespace": self.project},
            "reason": self.reason or self.status.capitalize(),
            "message": self.message or f"{self.service_id} is {self.status}",
            "type": self.type,
            "count": 1,
            "firstTimestamp": created,
            "lastTimestamp": created,
            "sardonyx": self.as_dict(),
        }
