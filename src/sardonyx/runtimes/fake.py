"""A fake runtime: the whole contract, no processes, scripted behaviours (instant, slow, failing, never ready,
jobs that succeed or fail). Every lifecycle path of the platform can be tested with it in milliseconds.

Behaviours are chosen per launch: ``behaviours[spec.id]``, else ``behaviours[spec.chart]``, else ``default``.
State goes to the ``RuntimeStateStore`` like a real runtime's, so a new ``FakeRuntime`` over the same store
re-attaches (``restore``): running services stay running, start-ups and jobs in flight carry on.

Example::

    runtime = FakeRuntime(behaviours={"mlflow": FakeBehaviour.slow(0.2), "broken": FakeBehaviour.failing()})
    await runtime.start(spec)
    async for event in runtime.progress(spec.id): ...
    await runtime.settle()          # wait until every start-up, stop and job has played out
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from sardonyx.errors import BadRequest, Conflict, NotFound
from sardonyx.runtimes.base import (
    ProgressEvent,
    Runtime,
    RuntimeStateStore,
    RuntimeStatus,
    ServiceSpec,
    ServiceStatus,
    Task,
)
from sardonyx.runtimes.names import validate_service_names
from sardonyx.runtimes.progress import InMemoryStateStore, ProgressLog, event_from_dict

Outcome = Literal["ready", "failed", "never_ready", "succeeded", "job_failed"]

_ALIVE = {ServiceStatus.PENDING, ServiceStatus.STARTING, ServiceStatus.RUNNING, ServiceStatus.STOPPING}


@dataclass(frozen=True)
class FakeBehaviour:
    """How the fake runtime plays one launch.

    Attributes:
        outcome: ``ready`` (a service that becomes running), ``failed`` (start-up fails with ``reason`` and
            ``message``), ``never_ready`` (stays ``starting`` forever), ``succeeded``/``job_failed`` (a job that
            runs ``job_seconds`` then exits 0 / ``exit_code``).
        delay: seconds from ``requested`` to the outcome (half building the environment, half starting).
        job_seconds: seconds a job runs before it ends.
        stop_seconds: seconds a suspend or delete takes.
        reason, message, exit_code: what a failure reports.
        publishes: discovery variables published while running; ``{port}`` and ``{id}`` are replaced.
        notes: post-install notes; ``{url}`` and ``{id}`` are replaced.
        log_lines: lines the service writes once started.
    """

    outcome: Outcome = "ready"
    delay: float = 0.0
    job_seconds: float = 0.0
    stop_seconds: float = 0.0
    reason: str | None = None
    message: str | None = None
    exit_code: int | None = None
    publishes: Mapping[str, str] = field(default_factory=dict)
    notes: str | None = None
    log_lines: tuple[str, ...] = ("fake service started",)

    @property
    def is_job(self) -> bool:
        return self.outcome in {"succeeded", "job_failed"}

    @classmethod
    def instant(cls, **overrides: Any) -> FakeBehaviour:
        """A service that is running as soon as the event loop turns."""
        return cls(**overrides)

    @classmethod
    def slow(cls, seconds: float, **overrides: Any) -> FakeBehaviour:
        """A service that takes ``seconds`` to become running."""
        return cls(delay=seconds, **overrides)

    @classmethod
    def failing(
        cls,
        reason: str = "EnvironmentBuildFailed",
        message: str = "The environment could not be built: package 'nope' was not found.",
        *,
        delay: float = 0.0,
        exit_code: int | None = None,
    ) -> FakeBehaviour:
        """A service whose start-up fails."""
        return cls(outcome="failed", delay=delay, reason=reason, message=message, exit_code=exit_code)

    @classmethod
    def never_ready(cls, **overrides: Any) -> FakeBehaviour:
        """A service that never passes its readiness probe."""
        return cls(outcome="never_ready", **overrides)

    @classmethod
    def job(cls, *, succeeds: bool = True, seconds: float = 0.0, exit_code: int = 1, **overrides: Any) -> FakeBehaviour:
        """A job that runs ``seconds`` and then exits 0 (``succeeds``) or ``exit_code``."""
        return cls(
            outcome="succeeded" if succeeds else "job_failed",
            job_seconds=seconds,
            exit_code=0 if succeeds else exit_code,
            **overrides,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "delay": self.delay,
            "job_seconds": self.job_seconds,
            "stop_seconds": self.stop_seconds,
            "reason": self.reason,
            "message": self.message,
            "exit_code": self.exit_code,
            "publishes": dict(self.publishes),
            "notes": self.notes,
            "log_lines": list(self.log_lines),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FakeBehaviour:
        return cls(**{**data, "log_lines": tuple(data.get("log_lines", ()))})


class FakeRuntime(Runtime):
    """The runtime contract played from ``FakeBehaviour`` scripts.

    Args:
        store: where state is persisted (an ``InMemoryStateStore`` when omitted).
        behaviours: behaviour per service id or chart name.
        default: behaviour for everything else (``FakeBehaviour.instant()``).
        require_recipe: when True, ``start`` refuses a spec without a recipe (``BadRequest``), as the local
            runtime does.
    """

    kind = "fake"

    def __init__(
        self,
        store: RuntimeStateStore | None = None,
        *,
        behaviours: Mapping[str, FakeBehaviour] | None = None,
        default: FakeBehaviour | None = None,
        require_recipe: bool = False,
    ) -> None:
        self.store: RuntimeStateStore = store if store is not None else InMemoryStateStore()
        self.behaviours: dict[str, FakeBehaviour] = dict(behaviours or {})
        self.default = default or FakeBehaviour.instant()
        self.require_recipe = require_recipe
        self._records: dict[str, dict[str, Any]] = {}
        self._progress: dict[str, ProgressLog] = {}
        self._logs_changed: dict[str, asyncio.Event] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._next_port = 41000
        self.calls: list[tuple[str, str]] = []
        """Every contract call as (method, service id), for assertions."""

    # -- configuration and test helpers ---------------------------------------------------------------------

    def set_behaviour(self, key: str, behaviour: FakeBehaviour) -> None:
        """Use ``behaviour`` for later launches of the service id or chart ``key``."""
        self.behaviours[key] = behaviour

    async def settle(self, timeout: float = 10.0) -> None:
        """Wait until no start-up, stop or job is in flight (``never_ready`` services excepted)."""
        deadline = time.monotonic() + timeout
        while True:
            pending = [
                t
                for sid, t in self._tasks.items()
                if not t.done() and not self._records.get(sid, {}).get("waiting_forever", False)
            ]
            if not pending:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("the fake runtime did not settle")
            # short waits: a task may start waiting forever (never_ready) while we wait for it
            await asyncio.wait(pending, timeout=min(remaining, 0.01))

    def crash(self, service_id: str, *, exit_code: int = 137, message: str | None = None) -> None:
        """Make a service's processes die (as if killed): it becomes ``failed`` with ``ProcessExited``."""
        record = self._record(service_id)
        self._cancel(service_id)
        text = message or f"The process exited unexpectedly with status {exit_code}."
        self._set(record, ServiceStatus.FAILED, reason="ProcessExited", message=text, exit_code=exit_code)
        self._fail_progress(service_id, text)

    # -- the contract ---------------------------------------------------------------------------------------

    async def restore(self) -> None:
        for service_id, state in self.store.all().items():
            if service_id in self._records:
                continue
            self._records[service_id] = state
            self._progress[service_id] = ProgressLog(event_from_dict(e) for e in state.get("events", []))
            self._logs_changed[service_id] = asyncio.Event()
            status = ServiceStatus(state["status"])
            if status in {ServiceStatus.PENDING, ServiceStatus.STARTING}:
                self._spawn(service_id, self._play(service_id, resumed=True))
            elif status is ServiceStatus.RUNNING and FakeBehaviour.from_dict(state["behaviour"]).is_job:
                self._spawn(service_id, self._run_job(service_id))
            elif status is ServiceStatus.STOPPING:
                self._set(state, ServiceStatus.SUSPENDED, reason="Suspended", message="The service is suspended.")
            elif status is ServiceStatus.DELETING:
                self._forget(service_id)

    async def start(self, spec: ServiceSpec) -> None:
        self.calls.append(("start", spec.id))
        validate_service_names(spec.id, spec.project)
        if spec.id in self._records:
            raise Conflict(f"A service with id {spec.id!r} already exists.")
        if self.require_recipe and spec.recipe is None:
            raise BadRequest(f"Chart {spec.chart!r} has no local recipe: it cannot run on this machine.")
        behaviour = self.behaviours.get(spec.id) or self.behaviours.get(spec.chart) or self.default
        port = self._next_port
        self._next_port += 1
        record: dict[str, Any] = {
            "spec": spec.as_dict(),
            "behaviour": behaviour.as_dict(),
            "port": port,
            "status": ServiceStatus.PENDING.value,
            "reason": None,
            "message": "The service is requested.",
            "exit_code": None,
            "started_at": None,
            "events": [],
            "logs": [],
        }
        self._records[spec.id] = record
        self._progress[spec.id] = ProgressLog()
        self._logs_changed[spec.id] = asyncio.Event()
        self._emit(spec.id, "requested", 0, f"Launch of {spec.friendly_name or spec.chart} requested.")
        self._spawn(spec.id, self._play(spec.id))

    async def status(self, service_id: str) -> RuntimeStatus:
        record = self._record(service_id)
        behaviour = FakeBehaviour.from_dict(record["behaviour"])
        status = ServiceStatus(record["status"])
        url = f"http://127.0.0.1:{record['port']}/"
        task_status = {
            ServiceStatus.RUNNING: "Running",
            ServiceStatus.SUCCEEDED: "Succeeded",
            ServiceStatus.FAILED: "Failed",
            ServiceStatus.SUSPENDED: "Terminated",
            ServiceStatus.STOPPED: "Terminated",
        }.get(status, "Pending")
        tasks = (
            ()
            if status is ServiceStatus.PENDING
            else (Task(f"{service_id}-0", task_status, record["reason"], status is ServiceStatus.RUNNING),)
        )
        return RuntimeStatus(
            status=status,
            reason=record["reason"],
            message=record["message"],
            urls=() if behaviour.is_job else (url,),
            tasks=tasks,
            exit_code=record["exit_code"],
            started_at=record["started_at"],
            suspendable=not behaviour.is_job,
            job=behaviour.is_job,
        )

    async def progress(self, service_id: str) -> AsyncIterator[ProgressEvent]:
        self._record(service_id)
        async for event in self._progress[service_id].follow():
            yield event

    async def logs(self, service_id: str, *, follow: bool = False, tail: int | None = None) -> AsyncIterator[str]:
        record = self._record(service_id)
        lines: list[str] = record["logs"]
        index = max(0, len(lines) - tail) if tail is not None else 0
        while True:
            changed = self._logs_changed.get(service_id)
            while index < len(lines):
                yield lines[index]
                index += 1
            if not follow or changed is None or ServiceStatus(record["status"]) not in _ALIVE:
                return
            await changed.wait()

    async def suspend(self, service_id: str) -> None:
        self.calls.append(("suspend", service_id))
        record = self._record(service_id)
        behaviour = FakeBehaviour.from_dict(record["behaviour"])
        status = ServiceStatus(record["status"])
        if behaviour.is_job:
            raise BadRequest("A job cannot be suspended: it runs to completion.")
        if status in {ServiceStatus.SUSPENDED, ServiceStatus.STOPPING}:
            return
        if status not in {ServiceStatus.PENDING, ServiceStatus.STARTING, ServiceStatus.RUNNING}:
            raise BadRequest(f"The service is {status.value}: there is nothing to suspend.")
        self._cancel(service_id)
        self._set(record, ServiceStatus.STOPPING, reason=None, message="The service is being suspended.")
        if not self._progress[service_id].finished:
            self._emit(service_id, "failed", 100, "The start-up was interrupted: the service was suspended.")
        self._spawn(service_id, self._stop(service_id))

    async def resume(self, service_id: str) -> None:
        self.calls.append(("resume", service_id))
        record = self._record(service_id)
        behaviour = FakeBehaviour.from_dict(record["behaviour"])
        status = ServiceStatus(record["status"])
        if behaviour.is_job:
            raise BadRequest("A job cannot be resumed: launch it again.")
        if status in {ServiceStatus.PENDING, ServiceStatus.STARTING, ServiceStatus.RUNNING}:
            return
        if status not in {ServiceStatus.SUSPENDED, ServiceStatus.STOPPED, ServiceStatus.FAILED}:
            raise BadRequest(f"The service is {status.value}: it cannot be resumed now.")
        self._cancel(service_id)
        self._progress[service_id] = ProgressLog()
        record["events"] = []
        self._set(record, ServiceStatus.PENDING, reason=None, message="The service is being resumed.", exit_code=None)
        self._emit(service_id, "requested", 0, "Resume requested.")
        self._spawn(service_id, self._play(service_id))

    async def delete(self, service_id: str) -> None:
        self.calls.append(("delete", service_id))
        record = self._record(service_id)
        if ServiceStatus(record["status"]) is ServiceStatus.DELETING:
            task = self._tasks.get(service_id)
            if task is not None:
                await asyncio.shield(task)
            return
        self._cancel(service_id)
        if not self._progress[service_id].finished:
            self._emit(service_id, "failed", 100, "The start-up was interrupted: the service was deleted.")
        self._set(record, ServiceStatus.DELETING, reason=None, message="The service is being deleted.")
        behaviour = FakeBehaviour.from_dict(record["behaviour"])
        if behaviour.stop_seconds > 0:
            task = self._spawn(service_id, self._delete_later(service_id, behaviour.stop_seconds))
            await asyncio.shield(task)
        else:
            self._forget(service_id)

    async def discovery(self, service_id: str) -> dict[str, str]:
        record = self._record(service_id)
        if ServiceStatus(record["status"]) is not ServiceStatus.RUNNING:
            return {}
        behaviour = FakeBehaviour.from_dict(record["behaviour"])
        return {k: v.format(port=record["port"], id=service_id) for k, v in behaviour.publishes.items()}

    async def notes(self, service_id: str) -> str | None:
        record = self._record(service_id)
        behaviour = FakeBehaviour.from_dict(record["behaviour"])
        if behaviour.notes is None:
            return None
        return behaviour.notes.format(url=f"http://127.0.0.1:{record['port']}/", id=service_id)

    async def close(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
        for task in list(self._tasks.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    # -- playing the scripts --------------------------------------------------------------------------------

    async def _play(self, service_id: str, *, resumed: bool = False) -> None:
        record = self._record(service_id)
        behaviour = FakeBehaviour.from_dict(record["behaviour"])
        half = behaviour.delay / 2
        self._set(record, ServiceStatus.STARTING, reason=None, message="Building the environment.")
        self._emit(service_id, "environment", 10, "Building the environment (fake).")
        await asyncio.sleep(half)
        if behaviour.outcome == "failed" and behaviour.reason == "EnvironmentBuildFailed":
            self._fail(service_id, behaviour)
            return
        self._emit(service_id, "environment", 50, "The environment is ready.")
        record["started_at"] = time.time()
        self._set(record, ServiceStatus.STARTING, reason=None, message="Starting the processes.")
        self._emit(service_id, "starting", 60, "Starting the processes and waiting for them to be ready.")
        await asyncio.sleep(half)
        if behaviour.outcome == "failed":
            self._fail(service_id, behaviour)
            return
        if behaviour.outcome == "never_ready":
            record["waiting_forever"] = True
            self._set(record, ServiceStatus.STARTING, reason="NotReady", message="Waiting for the service to be ready.")
            await asyncio.Event().wait()
            return
        self._write_logs(service_id, behaviour.log_lines)
        if behaviour.is_job:
            self._set(record, ServiceStatus.RUNNING, reason=None, message="The job is running.")
            self._emit(service_id, "ready", 100, "The job is running.")
            await self._run_job(service_id)
            return
        self._set(record, ServiceStatus.RUNNING, reason=None, message="The service is running.")
        self._emit(service_id, "ready", 100, "The service is ready." if not resumed else "The service is ready again.")

    async def _run_job(self, service_id: str) -> None:
        record = self._record(service_id)
        behaviour = FakeBehaviour.from_dict(record["behaviour"])
        started = record.get("started_at") or time.time()
        await asyncio.sleep(max(0.0, started + behaviour.job_seconds - time.time()))
        if behaviour.outcome == "succeeded":
            self._write_logs(service_id, ("job finished",))
            self._set(record, ServiceStatus.SUCCEEDED, reason="Completed", message="The job succeeded.", exit_code=0)
        else:
            code = behaviour.exit_code if behaviour.exit_code is not None else 1
            self._write_logs(service_id, (f"job failed with status {code}",))
            text = behaviour.message or f"The job failed: its process exited with status {code}."
            self._set(
                record, ServiceStatus.FAILED, reason=behaviour.reason or "ProcessExited", message=text, exit_code=code
            )

    async def _stop(self, service_id: str) -> None:
        record = self._record(service_id)
        await asyncio.sleep(FakeBehaviour.from_dict(record["behaviour"]).stop_seconds)
        self._set(record, ServiceStatus.SUSPENDED, reason="Suspended", message="The service is suspended.")

    async def _delete_later(self, service_id: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self._forget(service_id)

    def _fail(self, service_id: str, behaviour: FakeBehaviour) -> None:
        record = self._record(service_id)
        text = behaviour.message or "The service failed to start."
        self._set(
            record,
            ServiceStatus.FAILED,
            reason=behaviour.reason or "Failed",
            message=text,
            exit_code=behaviour.exit_code,
        )
        self._fail_progress(service_id, text)

    def _fail_progress(self, service_id: str, text: str) -> None:
        if not self._progress[service_id].finished:
            self._emit(service_id, "failed", 100, text)

    # -- bookkeeping ----------------------------------------------------------------------------------------

    def _record(self, service_id: str) -> dict[str, Any]:
        try:
            return self._records[service_id]
        except KeyError:
            raise NotFound(f"There is no service {service_id!r}.") from None

    def _spawn(self, service_id: str, coro: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks[service_id] = task
        return task

    def _cancel(self, service_id: str) -> None:
        task = self._tasks.pop(service_id, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        record = self._records.get(service_id)
        if record is not None:
            record.pop("waiting_forever", None)

    def _set(
        self,
        record: dict[str, Any],
        status: ServiceStatus,
        *,
        reason: str | None,
        message: str | None,
        exit_code: int | None = None,
    ) -> None:
        record.update(status=status.value, reason=reason, message=message, exit_code=exit_code)
        service_id = record["spec"]["id"]
        if service_id in self._records:
            self.store.save(service_id, record)
        changed = self._logs_changed.get(service_id)
        if changed is not None:
            changed.set()
            self._logs_changed[service_id] = asyncio.Event()

    def _emit(self, service_id: str, kind: Any, percent: int, message: str) -> None:
        event = ProgressEvent(kind=kind, progress=percent, message=message)
        self._progress[service_id].append(event)
        record = self._records[service_id]
        record["events"].append(event.as_dict())
        self.store.save(service_id, record)

    def _write_logs(self, service_id: str, lines: tuple[str, ...]) -> None:
        record = self._record(service_id)
        record["logs"].extend(lines)
        self.store.save(service_id, record)
        changed = self._logs_changed[service_id]
        changed.set()
        self._logs_changed[service_id] = asyncio.Event()

    def _forget(self, service_id: str) -> None:
        self._records.pop(service_id, None)
        self.store.delete(service_id)
        progress = self._progress.pop(service_id, None)
        if progress is not None:
            progress.close()
        changed = self._logs_changed.pop(service_id, None)
        if changed is not None:
            changed.set()
        task = self._tasks.get(service_id)
        if task is asyncio.current_task():
            self._tasks.pop(service_id, None)
