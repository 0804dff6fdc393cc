"""The local runtime: services as supervised process groups on this machine.

Each service gets a directory ``<data_dir>/services/<project>/<service id>/`` (its working directory unless
the recipe says otherwise; runtime files in its ``.sardonyx/`` subdirectory: ``service.log``, the shim's
``process.json`` and ``exit.json``), an environment from the ``EnvironmentCache``, free ports on 127.0.0.1,
and a shim (``shim.py``) started in a new session that runs the recipe's command and records how it ends.
Everything needed to find a service again is saved in the ``RuntimeStateStore`` at every transition, so a
new ``LocalRuntime`` over the same store and data directory re-attaches (``restore``): services keep
running, start-ups carry on, and a service that died meanwhile is ``failed`` with its exit reason.

Lifecycle (``phase`` in the state document, the ``ServiceStatus`` shown):
``pending`` -> ``starting`` (environment, then processes until the readiness probe passes) -> ``running``
-> ``failed`` (crash, bad start-up) | ``stopping`` -> ``suspended`` -> (resume) ``pending`` ...;
jobs: ``running`` -> ``succeeded`` | ``failed`` by exit status. ``stopped``: a service stopped outside the
platform (SIGTERM/SIGINT/SIGHUP to its supervisor, or the machine restarted); ``resume`` starts it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import sys
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from sardonyx.errors import BadRequest, Conflict, NotFound, Violation
from sardonyx.runtimes.base import (
    ProgressEvent,
    ProgressKind,
    Runtime,
    RuntimeStateStore,
    RuntimeStatus,
    ServiceSpec,
    ServiceStatus,
    Task,
)
from sardonyx.runtimes.local.environments import (
    BuiltEnvironment,
    EnvironmentBuildFailed,
    EnvironmentCache,
    EnvironmentRequest,
    ProjectSource,
    describe_uv_line,
    processes_in,
    tree_size,
    validate_requirements,
)
from sardonyx.runtimes.local.envvars import base_env, extra_env, library_env
from sardonyx.runtimes.local.processes import (
    ExitInfo,
    create_time,
    free_port,
    http_status,
    port_is_free,
    process_if_alive,
    read_json,
    spawn_shim,
    stop_tree,
)
from sardonyx.runtimes.local.recipe import InvalidRecipe, Recipe, Renderer, is_safe_relative_path, parse_recipe
from sardonyx.runtimes.local.shim import rotate_log, rotated_names
from sardonyx.runtimes.names import validate_service_names
from sardonyx.runtimes.progress import ProgressLog, event_from_dict

log = logging.getLogger(__name__)

STATE_VERSION = 1
_ACTIVE = {ServiceStatus.PENDING, ServiceStatus.STARTING, ServiceStatus.RUNNING}
_FOLLOWED = _ACTIVE | {ServiceStatus.STOPPING}


def default_envs_dir() -> Path:
    """``$XDG_CACHE_HOME/sardonyx/envs``, else ``~/.cache/sardonyx/envs`` (shared by every data directory)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sardonyx" / "envs"


def _checkout_root() -> Path | None:
    from sardonyx.settings import REPO_ROOT

    return REPO_ROOT if (REPO_ROOT / "pyproject.toml").is_file() else None


class _Failure(Exception):
    """A start-up that cannot go on: becomes ``failed`` with ``reason`` and ``message``."""

    def __init__(self, reason: str, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.exit_code = exit_code


@dataclass
class _Launch:
    """Everything rendered for one start of a service."""

    argv: list[str]
    env: dict[str, str]
    workdir: Path
    files: dict[str, str]
    url: str | None
    published: dict[str, str]
    probe_headers: dict[str, str]
    probe_path: str


@dataclass
class _Service:
    spec: ServiceSpec
    recipe: Recipe | None
    state: dict[str, Any]
    progress: ProgressLog
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    task: asyncio.Task[None] | None = None
    deletion: asyncio.Task[None] | None = None

    @property
    def phase(self) -> ServiceStatus:
        return ServiceStatus(self.state["phase"])

    @property
    def dir(self) -> Path:
        return Path(self.state["service_dir"])

    @property
    def state_dir(self) -> Path:
        return self.dir / ".sardonyx"

    @property
    def log_path(self) -> Path:
        return self.state_dir / "service.log"

    @property
    def name(self) -> str:
        return self.spec.friendly_name or self.spec.chart

    @property
    def is_job(self) -> bool:
        return self.recipe is not None and self.recipe.is_job

    @property
    def runnable(self) -> Recipe:
        """The recipe (services restored with an unreadable recipe never reach the code that runs them)."""
        if self.recipe is None:
            raise BadRequest(f"{self.name} has no usable recipe.")
        return self.recipe


class LocalRuntime(Runtime):
    """Runs services as supervised processes on this machine.

    Args:
        store: where every service's state document is saved (the platform's SQLite store; a
            ``JsonDirStateStore`` or ``InMemoryStateStore`` in tests).
        data_dir: the platform's data directory; services live in ``<data_dir>/services/<project>/<id>/``.
        envs_dir: the environment cache (default ``default_envs_dir()``, shared by every data directory).
        uv_bin: the uv executable (default: the one of the ``uv`` package).
        project_root: the Sardonyx checkout installed (editable) by recipes with ``project_extras`` or a
            ``sardonyx[...]`` requirement (default: this checkout when running from one; in a wheel install
            such recipes are refused with ``BadRequest``).
        monitor_interval: seconds between two liveness checks of a running service.
        log_max_bytes: a service's log is rotated past this size (by its shim, while it runs; and before each
            start), keeping ``log_backups`` older files (``service.log.1`` newest); ``logs`` reads them all.
    """

    kind = "local"

    def __init__(
        self,
        store: RuntimeStateStore,
        data_dir: Path,
        *,
        envs_dir: Path | None = None,
        uv_bin: str | None = None,
        project_root: Path | None = None,
        monitor_interval: float = 0.5,
        log_max_bytes: int = 10 * 1024 * 1024,
        log_backups: int = 3,
    ) -> None:
        self.store = store
        self.data_dir = Path(data_dir)
        self.services_root = self.data_dir / "services"
        self.envs = EnvironmentCache(envs_dir or default_envs_dir(), uv_bin)
        self.project_root = project_root or _checkout_root()
        self.monitor_interval = monitor_interval
        self.log_max_bytes = log_max_bytes
        self.log_backups = log_backups
        self._services: dict[str, _Service] = {}
        self._restored = False

    # -- the contract ---------------------------------------------------------------------------------------

    async def restore(self) -> None:
        if self._restored:
            return
        self._restored = True
        for service_id, state in self.store.all().items():
            if service_id in self._services:
                continue
            try:
                self._reattach(service_id, state)
            except Exception:  # one broken document must not keep the platform from starting
                log.exception("could not restore service %s", service_id)

    async def start(self, spec: ServiceSpec) -> None:
        validate_service_names(spec.id, spec.project)
        if spec.id in self._services or self.store.load(spec.id) is not None:
            raise Conflict(f"A service with id {spec.id!r} already exists.")
        recipe = parse_recipe(spec.recipe, chart=spec.chart)
        service_dir = self.services_root / spec.project / spec.id
        # render once with placeholder ports: template and value errors surface now, as a 400
        env_request = self._env_request(spec, recipe)
        self._pins(spec, recipe)
        placeholder_ports = {port.name: 1 for port in recipe.ports}
        self._render(
            spec, recipe, service_dir, placeholder_ports, self.envs.path_for(env_request) if env_request else None
        )

        state: dict[str, Any] = {
            "version": STATE_VERSION,
            "spec": spec.as_dict(),
            "phase": ServiceStatus.PENDING.value,
            "reason": None,
            "message": f"{spec.friendly_name or spec.chart} is requested.",
            "exit_code": None,
            "service_dir": str(service_dir),
            "ports": {},
            "env_dir": None,
            "process": None,
            "url": None,
            "published": {},
            "started_at": None,
            "ready_at": None,
            "run": 1,
            "events": [],
        }
        service = _Service(spec=spec, recipe=recipe, state=state, progress=ProgressLog())
        self._services[spec.id] = service
        service.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        service.dir.chmod(0o700)
        self._emit(service, "requested", 0, f"Launch of {service.name} requested.")
        service.task = asyncio.ensure_future(self._launch(service))

    async def status(self, service_id: str) -> RuntimeStatus:
        service = self._get(service_id)
        self._check_alive(service)
        state = service.state
        phase = service.phase
        task_status = {
            ServiceStatus.RUNNING: "Running",
            ServiceStatus.SUCCEEDED: "Succeeded",
            ServiceStatus.FAILED: "Failed",
            ServiceStatus.SUSPENDED: "Terminated",
            ServiceStatus.STOPPED: "Terminated",
            ServiceStatus.STOPPING: "Terminated",
            ServiceStatus.DELETING: "Terminated",
        }.get(phase, "Pending")
        tasks: tuple[Task, ...] = ()
        if state.get("process") or phase is not ServiceStatus.PENDING:
            ready = phase is ServiceStatus.RUNNING
            tasks = (Task(f"{service_id}-{state['run']}", task_status, state["reason"], ready),)
        urls = (state["url"],) if state.get("url") else ()
        return RuntimeStatus(
            status=phase,
            reason=state["reason"],
            message=state["message"],
            urls=urls,
            tasks=tasks,
            exit_code=state["exit_code"],
            started_at=state["started_at"],
            suspendable=not service.is_job,
            job=service.is_job,
        )

    async def progress(self, service_id: str) -> AsyncIterator[ProgressEvent]:
        service = self._get(service_id)
        async for event in service.progress.follow():
            yield event

    async def logs(self, service_id: str, *, follow: bool = False, tail: int | None = None) -> AsyncIterator[str]:
        service = self._get(service_id)
        path = service.log_path
        backups = rotated_names(path, self.log_backups)
        position, lines = _read_tail(path, tail, backups)
        for line in lines:
            yield line
        if not follow:
            return
        pending = b""
        while True:
            alive = service_id in self._services and service.phase in _FOLLOWED
            size = _size(path)
            if size < position:
                # rotated (copied to .1, then truncated): the lines past our position are at the end of .1
                pending += _read_from(backups[0], position) if backups else b""
                position = 0
            chunk = _read_from(path, position)
            position += len(chunk)
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for raw in complete:
                yield raw.decode(errors="replace").rstrip("\r")
            if not alive:
                if pending:
                    yield pending.decode(errors="replace")
                return
            await asyncio.sleep(0.2)

    async def suspend(self, service_id: str) -> None:
        service = self._get(service_id)
        async with service.lock:
            if service.is_job:
                raise BadRequest("A job cannot be suspended: it runs to completion. Delete it to stop it.")
            phase = service.phase
            if phase in {ServiceStatus.SUSPENDED, ServiceStatus.STOPPING}:
                return
            if phase not in _ACTIVE:
                raise BadRequest(f"{service.name} is {phase.value}: there is nothing to suspend.")
            await self._cancel_task(service)
            if not service.progress.finished:
                self._emit(service, "failed", 100, "The start-up was interrupted: the service is being suspended.")
            self._set(service, ServiceStatus.STOPPING, message=f"{service.name} is being suspended.")
            await self._stop_processes(service)
            self._set(
                service,
                ServiceStatus.SUSPENDED,
                reason="Suspended",
                message=f"{service.name} is suspended; its files are kept in {service.dir}.",
            )

    async def resume(self, service_id: str) -> None:
        service = self._get(service_id)
        async with service.lock:
            if service.is_job:
                raise BadRequest("A job cannot be resumed: launch it again.")
            phase = service.phase
            if phase in _ACTIVE:
                return
            if phase not in {ServiceStatus.SUSPENDED, ServiceStatus.STOPPED, ServiceStatus.FAILED}:
                raise BadRequest(f"{service.name} is {phase.value}: it cannot be resumed now.")
            if service.recipe is None:
                raise BadRequest(f"{service.name} cannot be resumed: {service.state.get('message')}")
            service.state["run"] = int(service.state.get("run", 1)) + 1
            service.state["events"] = []
            service.progress = ProgressLog()
            self._set(service, ServiceStatus.PENDING, message=f"{service.name} is being resumed.")
            self._emit(service, "requested", 0, f"Resume of {service.name} requested.")
            service.task = asyncio.ensure_future(self._launch(service))

    async def delete(self, service_id: str) -> None:
        service = self._get(service_id)
        if service.deletion is None:
            service.deletion = asyncio.ensure_future(self._delete(service))
        await asyncio.shield(service.deletion)

    async def discovery(self, service_id: str) -> dict[str, str]:
        service = self._get(service_id)
        self._check_alive(service)
        if service.phase is not ServiceStatus.RUNNING:
            return {}
        return dict(service.state.get("published") or {})

    async def notes(self, service_id: str) -> str | None:
        service = self._get(service_id)
        if not service.spec.chart_dir or service.recipe is None:
            return None
        path = Path(service.spec.chart_dir) / "templates" / "NOTES.txt"
        if not path.is_file():
            return None
        ports = service.state.get("ports") or {p.name: 0 for p in service.recipe.ports}
        renderer = Renderer(self._context(service.spec, service.dir, ports, self._env_dir(service)))
        renderer.context["url"] = service.state.get("url")
        renderer.context["urls"] = [service.state["url"]] if service.state.get("url") else []
        text = renderer.text(path.read_text(encoding="utf-8"), "templates/NOTES.txt")
        if renderer.errors:
            return f"(The notes of this chart could not be rendered: {renderer.errors[0].reason})"
        return text

    async def close(self) -> None:
        for service in list(self._services.values()):
            for task in (service.task, service.deletion):
                if task is not None and not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task

    # -- the environment cache ------------------------------------------------------------------------------

    def environment_users(self) -> dict[str, list[str]]:
        """Environment key -> ids of this runtime's services that run in it, whatever their status (a
        suspended or failed service resumes in the same environment)."""
        users: dict[str, list[str]] = {}
        for service_id, service in sorted(self._services.items()):
            if service.recipe is None:
                continue
            key: str | None = None
            with contextlib.suppress(Exception):  # values the recipe cannot render: no environment
                request = self._env_request(service.spec, service.recipe)
                key = request.key() if request is not None else None
            built = service.state.get("env_dir")
            for found in {key, Path(built).name if built else None} - {None}:
                users.setdefault(str(found), []).append(service_id)
        return users

    def environments(self) -> list[dict[str, Any]]:
        """The environment cache as ``sardonyx envs list`` shows it: every environment (``CachedEnvironment``
        fields) with ``services`` (ids of this runtime's services using it) and ``processes`` (pids of programs
        of it running on this machine, whoever started them). Blocking: call it in a thread."""
        users = self.environment_users()
        running = processes_in(self.envs.root)
        return [
            entry.as_dict() | {"services": users.get(entry.key, []), "processes": running.get(entry.key, [])}
            for entry in self.envs.entries()
        ]

    def prune_environments(self, *, dry_run: bool = False) -> dict[str, Any]:
        """Delete the environments no service of this runtime uses and no process runs (the cache is shared by
        every data directory: a running program of another platform keeps its environment; a suspended
        service of another platform gets its environment built again when it resumes), and the leftovers of
        interrupted builds. ``dry_run`` says what would go. Blocking: call it in a thread.

        Returns:
            ``{"removed": [{"key", "size", "requirements"}], "kept": [{"key", "size", "services",
            "processes"}], "leftovers": [paths], "freed": bytes, "dryRun": bool}``.
        """
        removed: list[dict[str, Any]] = []
        kept: list[dict[str, Any]] = []
        freed = 0
        for entry in self.environments():
            # again just before deciding: a launch may have started since the listing
            entry["services"] = entry["services"] or self.environment_users().get(entry["key"], [])
            if entry["services"] or entry["processes"]:
                kept.append({k: entry[k] for k in ("key", "size", "services", "processes")})
                continue
            size = entry["size"] if dry_run else self.envs.remove(Path(entry["path"]))
            if not dry_run and size == 0:  # a build of it started meanwhile
                kept.append({k: entry[k] for k in ("key", "size", "services", "processes")})
                continue
            freed += size
            removed.append({"key": entry["key"], "size": size, "requirements": entry["requirements"]})
        leftovers = []
        for folder in self.envs.leftovers():
            freed += tree_size(folder) if dry_run else self.envs.remove(folder)
            leftovers.append(str(folder))
        if removed and not dry_run:
            log.info("pruned %d environments (%d bytes)", len(removed), freed)
        return {"removed": removed, "kept": kept, "leftovers": leftovers, "freed": freed, "dryRun": dry_run}

    # -- starting -------------------------------------------------------------------------------------------

    def _env_request(self, spec: ServiceSpec, recipe: Recipe) -> EnvironmentRequest | None:
        environment = recipe.environment
        if environment is None:
            return None
        renderer = Renderer({"values": spec.values, "service": {"id": spec.id, "project": spec.project}})
        requirements = [
            renderer.text(r, f"recipe.environment.requirements[{n}]") for n, r in enumerate(environment.requirements)
        ]
        if environment.requirements_from:
            requirements += renderer.string_list(environment.requirements_from, "recipe.environment.requirements_from")
        renderer.raise_errors(f"The recipe of chart {spec.chart!r} cannot be rendered with these values.")
        problems = validate_requirements(requirements, "environment.requirements")
        if problems:
            raise BadRequest("Some requirements of the environment are invalid.", violations=problems)
        extras: set[str] | None = None if environment.project_extras is None else set(environment.project_extras)
        kept: list[str] = []
        for text in requirements:
            requirement = Requirement(text)
            # `sardonyx[codif]` means this checkout (editable), never a package of that name from an index
            if canonicalize_name(requirement.name) == "sardonyx" and not requirement.url:
                extras = (extras or set()) | set(requirement.extras)
            else:
                kept.append(text)
        project = None
        if extras is not None:
            if self.project_root is None:
                raise BadRequest(
                    f"Chart {spec.chart!r} installs the Sardonyx checkout (sardonyx[...]), and this installation "
                    "is not a checkout."
                )
            project = ProjectSource(self.project_root, tuple(sorted(extras)))
        return EnvironmentRequest(environment.python, tuple(kept), project)

    def _context(
        self, spec: ServiceSpec, service_dir: Path, ports: Mapping[str, int], env_dir: Path | None
    ) -> dict[str, Any]:
        context: dict[str, Any] = {
            "values": spec.values,
            "ports": dict(ports),
            "service": {
                "id": spec.id,
                "project": spec.project,
                "owner": spec.owner,
                "chart": spec.chart,
                "version": spec.version,
                "friendly_name": spec.friendly_name or spec.chart,
                "dir": str(service_dir),
            },
            "injected": library_env(spec.values),
            "discovery": dict(spec.discovery),
        }
        if env_dir is not None:
            context["env"] = {
                "dir": str(env_dir),
                "bin": str(env_dir / "bin"),
                "python": str(env_dir / "bin" / "python"),
            }
        return context

    def _render(
        self,
        spec: ServiceSpec,
        recipe: Recipe,
        service_dir: Path,
        ports: Mapping[str, int],
        env_dir: Path | None,
    ) -> _Launch:
        context = self._context(spec, service_dir, ports, env_dir)
        renderer = Renderer(context)
        argv = renderer.command(recipe.command)
        recipe_env = renderer.mapping(recipe.env, "recipe.env")
        files: dict[str, str] = {}
        for template_name, template in recipe.files.items():
            where = f"recipe.files.{template_name}"
            name = renderer.text(template_name, where)
            files[name] = renderer.text(template, where)
            if name and not is_safe_relative_path(name):
                renderer.errors.append(
                    Violation(where, f"{name!r} is not a relative path inside the service directory")
                )
        workdir = renderer.text(recipe.workdir, "recipe.workdir") if recipe.workdir else str(service_dir)
        url = renderer.text(recipe.url, "recipe.url") if recipe.url else None
        if url is None and recipe.ports and not recipe.is_job:
            url = f"http://127.0.0.1:{ports[recipe.ports[0].name]}/"
        published = renderer.mapping(recipe.discovery.env, "recipe.discovery.env") if recipe.discovery else {}
        probe = recipe.readiness.http
        headers = renderer.mapping(probe.headers, "recipe.readiness.http.headers") if probe else {}
        for name, value in headers.items():
            if "\r" in value or "\n" in value:
                renderer.errors.append(Violation(f"recipe.readiness.http.headers.{name}", "contains a line break"))
        probe_path = renderer.text(probe.path, "recipe.readiness.http.path") if probe else "/"
        if not probe_path.startswith("/") or any(c.isspace() for c in probe_path):
            renderer.errors.append(
                Violation("recipe.readiness.http.path", f"{probe_path!r} must start with '/' and contain no space")
            )
        if not argv or not argv[0]:
            renderer.errors.append(
                Violation("recipe.command", "renders to no program: check the values that fill the command")
            )
        renderer.raise_errors(f"The recipe of chart {spec.chart!r} cannot be rendered with these values.")
        # an empty rendering means "not set": e.g. an S3 variable when S3 is disabled, a file with no content
        recipe_env = {name: value for name, value in recipe_env.items() if value != ""}
        files = {name: content for name, content in files.items() if content != ""}
        published = {name: value for name, value in published.items() if value != ""}

        env = base_env()
        path_dirs = [
            p for p in os.environ.get("PATH", os.defpath).split(os.pathsep) if p and p != str(Path(sys.prefix) / "bin")
        ]
        if env_dir is not None:
            path_dirs.insert(0, str(env_dir / "bin"))
            env["VIRTUAL_ENV"] = str(env_dir)
        env["PATH"] = os.pathsep.join(path_dirs)
        env.update(context["injected"])
        env.update(spec.discovery)
        env.update(recipe_env)
        env.update(extra_env(spec.values))
        return _Launch(argv, env, Path(workdir), files, url, published, headers, probe_path)

    def _pins(self, spec: ServiceSpec, recipe: Recipe) -> dict[str, int]:
        """The ports the values pin (port name -> number).

        Raises:
            BadRequest: a pin is not a port number (every violation listed).
        """
        renderer = Renderer({"values": spec.values})
        pins: dict[str, int] = {}
        problems: list[Violation] = []
        for port in recipe.ports:
            if not port.pin:
                continue
            where = f"ports.{port.name}"
            value = renderer.expression(port.pin, where)
            if value in (None, "", 0, "0", False):
                continue
            try:
                number = int(value)
            except (TypeError, ValueError):
                problems.append(Violation(where, f"{value!r} is not a port number"))
                continue
            if not 1 <= number <= 65535:
                problems.append(Violation(where, f"{number} is outside 1-65535"))
                continue
            pins[port.name] = number
        problems = renderer.errors + problems
        if problems:
            raise BadRequest("Some ports are invalid.", violations=problems)
        return pins

    def _allocate_ports(self, service: _Service) -> dict[str, int]:
        recipe = service.recipe
        if recipe is None or not recipe.ports:
            return {}
        pins = self._pins(service.spec, recipe)
        previous: dict[str, int] = service.state.get("ports") or {}
        in_use = {
            number
            for other in self._services.values()
            if other is not service and other.phase in _FOLLOWED
            for number in (other.state.get("ports") or {}).values()
        }
        ports: dict[str, int] = {}
        for port in recipe.ports:
            pinned = pins.get(port.name)
            if pinned is not None:
                if pinned in in_use or pinned in ports.values() or not port_is_free(pinned):
                    raise _Failure(
                        "PortInUse",
                        f"Port {pinned} ({port.name}) is already in use on 127.0.0.1: choose another port, or leave "
                        "it empty to get a free one.",
                    )
                ports[port.name] = pinned
                continue
            former = previous.get(port.name)
            if former and former not in in_use and former not in ports.values() and port_is_free(former):
                ports[port.name] = former  # a resumed service keeps its URL when it can
            else:
                ports[port.name] = free_port(avoid=in_use | set(ports.values()))
        return ports

    async def _ensure_environment(self, service: _Service) -> BuiltEnvironment | None:
        request = self._env_request(service.spec, service.runnable)
        if request is None:
            self._emit(service, "environment", 50, "No environment to build: the command runs from the system's PATH.")
            return None
        if self.envs.is_built(request):
            self._emit(service, "environment", 50, "Reusing the environment already built for these requirements.")
            built = await self.envs.ensure(request, lambda line: None)
            service.state["env_dir"] = str(built.path)
            return built
        self._set(
            service, ServiceStatus.STARTING, message="Building the environment (first launch with these requirements)."
        )
        self._emit(service, "environment", 5, f"Building a new environment with uv: {request.describe()}.")
        percent = 5
        log_file = service.log_path.open("a", encoding="utf-8")

        def on_line(line: str) -> None:
            nonlocal percent
            log_file.write(f"[environment] {line}\n")
            log_file.flush()
            described = describe_uv_line(line)
            if described is not None:
                message, milestone = described
                percent = max(percent, milestone) if milestone else min(percent + 1, 49)
                self._emit(service, "environment", percent, message)

        def on_wait() -> None:
            self._emit(
                service, "environment", percent, "Another launch is building the same environment: waiting for it."
            )

        try:
            built = await self.envs.ensure(request, on_line, on_wait)
        except EnvironmentBuildFailed as error:
            log_file.write(f"[environment] failed: {error.message}\n")
            raise _Failure("EnvironmentBuildFailed", f"The environment could not be built.\n{error.message}") from None
        finally:
            log_file.close()
        service.state["env_dir"] = str(built.path)
        if not built.reused:
            self._emit(service, "environment", 60, f"Environment ready (built in {built.seconds:.1f} s).")
        else:
            self._emit(service, "environment", 60, "Environment ready (built by another launch).")
        return built

    async def _launch(self, service: _Service) -> None:
        try:
            recipe = service.runnable
            self._set(service, ServiceStatus.STARTING, message="Preparing the environment.")
            built = await self._ensure_environment(service)
            ports = self._allocate_ports(service)
            service.state["ports"] = ports
            launch = self._render(service.spec, recipe, service.dir, ports, built.path if built else None)
            self._write_files(service, launch)
            program = self._resolve_program(launch)
            self._write_log(
                service, f"[sardonyx] run {service.state['run']}: starting {Path(program).name} in {launch.workdir}"
            )
            service.state.update(url=launch.url, published=launch.published, exit_code=None)
            await self._spawn(service, [program, *launch.argv[1:]], launch)
            if service.is_job:
                self._set(service, ServiceStatus.RUNNING, message=f"The job {service.name} is running.")
                self._emit(service, "ready", 100, f"The job {service.name} is running.")
            else:
                self._emit(service, "starting", 70, self._starting_message(service))
                await self._wait_ready(service, launch)
                service.state["ready_at"] = time.time()
                self._set(service, ServiceStatus.RUNNING, message=f"{service.name} is running.")
                self._emit(
                    service, "ready", 100, f"{service.name} is ready" + (f" at {launch.url}." if launch.url else ".")
                )
        except _Failure as failure:
            await self._fail_start(service, failure)
            return
        except (InvalidRecipe, BadRequest) as error:
            details = "; ".join(f"{v.path}: {v.reason}" for v in error.violations)
            await self._fail_start(service, _Failure("InvalidRecipe", f"{error.message} {details}".strip()))
            return
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.exception("start-up of %s failed", service.spec.id)
            await self._fail_start(service, _Failure("InternalError", f"The start-up failed unexpectedly: {error}"))
            return
        await self._monitor(service)

    def _starting_message(self, service: _Service) -> str:
        probe = service.runnable.readiness.http
        if probe is None:
            return f"Starting {service.name}."
        return f"Starting {service.name}; waiting for it to answer over HTTP."

    def _write_files(self, service: _Service, launch: _Launch) -> None:
        for name, content in launch.files.items():
            path = service.dir / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        if launch.workdir == service.dir or launch.workdir.is_relative_to(service.dir):
            launch.workdir.mkdir(parents=True, exist_ok=True)
        elif not launch.workdir.is_dir():
            raise _Failure("InvalidWorkdir", f"The working directory {launch.workdir} does not exist.")

    def _resolve_program(self, launch: _Launch) -> str:
        program = launch.argv[0]
        if "/" in program:
            path = program if Path(program).is_absolute() else str(launch.workdir / program)
            if not os.access(path, os.X_OK):
                raise _Failure("CommandNotFound", f"The program {program} does not exist or is not executable.")
            return path
        found = shutil.which(program, path=launch.env.get("PATH"))
        if found is None:
            raise _Failure(
                "CommandNotFound", f"The program {program!r} was found neither in the environment nor on PATH."
            )
        return found

    async def _spawn(self, service: _Service, argv: list[str], launch: _Launch) -> None:
        # what was written while no shim ran (an environment build, earlier runs) is rotated now
        with contextlib.suppress(OSError):
            rotate_log(service.log_path, self.log_max_bytes, self.log_backups)
        try:
            pid = await asyncio.to_thread(
                spawn_shim,
                state_dir=service.state_dir,
                argv=argv,
                env=launch.env,
                workdir=launch.workdir,
                log_path=service.log_path,
                grace=service.runnable.stop_grace_seconds,
                log_max_bytes=self.log_max_bytes,
                log_backups=self.log_backups,
            )
        except OSError as error:
            raise _Failure("InternalError", f"The service could not be started: {error}") from None
        service.state["process"] = {"pid": pid, "create_time": create_time(pid)}
        service.state["started_at"] = time.time()
        self._save(service)

    async def _wait_ready(self, service: _Service, launch: _Launch) -> None:
        recipe = service.runnable
        readiness = recipe.readiness
        probe = readiness.http
        started = time.monotonic()
        deadline = started + readiness.timeout_seconds
        port = None
        if probe is not None:
            port = int(service.state["ports"][probe.port or recipe.ports[0].name])
        while True:
            ended = self._ended(service)
            if ended is not None:
                raise _Failure(
                    "ProcessExited",
                    f"{service.name} {ended.describe()} during start-up.{self._log_excerpt(service)}",
                    ended.exit_code,
                )
            if probe is not None and port is not None:
                if await http_status(port, launch.probe_path, launch.probe_headers) in probe.status:
                    return
            elif time.monotonic() - started >= readiness.settle_seconds:
                return
            if time.monotonic() > deadline:
                await self._stop_processes(service)
                raise _Failure(
                    "ReadinessTimeout",
                    f"{service.name} did not become ready within {readiness.timeout_seconds:g} s; it was stopped."
                    f"{self._log_excerpt(service)}",
                )
            await asyncio.sleep(readiness.interval_seconds)

    async def _fail_start(self, service: _Service, failure: _Failure) -> None:
        await self._stop_processes(service)
        self._write_log(service, f"[sardonyx] start-up failed ({failure.reason}): {failure.message}")
        self._set(
            service, ServiceStatus.FAILED, reason=failure.reason, message=failure.message, exit_code=failure.exit_code
        )
        if not service.progress.finished:
            self._emit(service, "failed", 100, failure.message)

    # -- watching -------------------------------------------------------------------------------------------

    async def _monitor(self, service: _Service) -> None:
        while True:
            await asyncio.sleep(self.monitor_interval)
            ended = self._ended(service)
            if ended is not None:
                self._on_exit(service, ended)
                return

    def _check_alive(self, service: _Service) -> None:
        """Make the status exact now rather than at the next monitor tick."""
        if service.phase in {ServiceStatus.RUNNING, ServiceStatus.STARTING} and service.state.get("process"):
            if service.lock.locked():
                return
            ended = self._ended(service)
            if ended is not None and service.phase is ServiceStatus.RUNNING:
                if service.task is not None and not service.task.done():
                    service.task.cancel()
                self._on_exit(service, ended)

    def _ended(self, service: _Service) -> ExitInfo | None:
        """None while the service's command runs; how it ended otherwise."""
        process = service.state.get("process")
        if not process:
            return None
        if process_if_alive(process["pid"], process.get("create_time")) is not None:
            return None
        info = ExitInfo.from_file(service.state_dir / "exit.json")
        if info is not None:
            return info
        child = read_json(service.state_dir / "process.json") or {}
        if process_if_alive(child.get("child_pid"), child.get("child_create_time")) is not None:
            return None  # the shim was killed but the command still runs: keep watching it
        return ExitInfo(exit_code=None, lost=True)

    def _on_exit(self, service: _Service, ended: ExitInfo) -> None:
        if service.is_job:
            if ended.succeeded:
                self._set(
                    service,
                    ServiceStatus.SUCCEEDED,
                    reason="Completed",
                    message=f"The job {service.name} succeeded.",
                    exit_code=0,
                )
            else:
                self._set(
                    service,
                    ServiceStatus.FAILED,
                    reason="ProcessExited",
                    message=f"The job {service.name} failed: its process {ended.describe()}."
                    f"{self._log_excerpt(service, 3)}",
                    exit_code=ended.exit_code,
                )
            self._write_log(service, f"[sardonyx] the job's process {ended.describe()}")
            return
        started_at = service.state.get("started_at") or 0.0
        if ended.requested:  # its supervisor was told to stop, and not by us (suspend and delete never get here)
            self._set(
                service,
                ServiceStatus.STOPPED,
                reason="Stopped",
                message=f"{service.name} was stopped from outside the platform (its process {ended.describe()}); "
                "resume it to start it again.",
                exit_code=ended.exit_code,
            )
            self._write_log(service, f"[sardonyx] stopped from outside: the process {ended.describe()}")
            return
        if ended.lost and _booted_after(started_at):
            self._set(
                service,
                ServiceStatus.STOPPED,
                reason="MachineRestarted",
                message=f"{service.name} stopped when the machine restarted; resume it to start it again.",
            )
            return
        self._set(
            service,
            ServiceStatus.FAILED,
            reason="ProcessExited",
            # after a good start the last log lines are routine ones: the logs themselves tell the story
            message=f"{service.name} stopped unexpectedly: its process {ended.describe()}. Its logs may say why.",
            exit_code=ended.exit_code,
        )
        self._write_log(service, f"[sardonyx] the process {ended.describe()}")

    def _log_excerpt(self, service: _Service, lines: int = 5) -> str:
        _, tail = _read_tail(service.log_path, lines + 5)
        useful = [line for line in tail if not line.startswith("[sardonyx]")][-lines:]
        if not useful:
            return ""
        return " Last lines of its log:\n" + "\n".join(useful)

    # -- stopping and deleting ------------------------------------------------------------------------------

    async def _cancel_task(self, service: _Service) -> None:
        task = service.task
        service.task = None
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _stop_processes(self, service: _Service) -> None:
        process = service.state.get("process")
        if not process:
            return
        child_info = read_json(service.state_dir / "process.json") or {}
        shim = process_if_alive(process["pid"], process.get("create_time"))
        child = process_if_alive(child_info.get("child_pid"), child_info.get("child_create_time"))
        grace = service.recipe.stop_grace_seconds if service.recipe else 10.0
        await stop_tree(shim, child, grace=grace)

    async def _delete(self, service: _Service) -> None:
        async with service.lock:
            await self._cancel_task(service)
            if not service.progress.finished:
                self._emit(service, "failed", 100, "The start-up was interrupted: the service is being deleted.")
            self._set(service, ServiceStatus.DELETING, message=f"{service.name} is being deleted.")
            await self._stop_processes(service)
            await asyncio.to_thread(shutil.rmtree, service.dir, ignore_errors=True)
            with contextlib.suppress(OSError):
                service.dir.parent.rmdir()  # the project's folder, once empty
            self.store.delete(service.spec.id)
            self._services.pop(service.spec.id, None)
            service.progress.close()

    # -- restoring ------------------------------------------------------------------------------------------

    def _reattach(self, service_id: str, state: dict[str, Any]) -> None:
        spec = ServiceSpec.from_dict(state["spec"])
        recipe: Recipe | None
        try:
            recipe = parse_recipe(spec.recipe, chart=spec.chart)
        except InvalidRecipe as error:
            recipe = None
            state.update(phase=ServiceStatus.FAILED.value, reason="InvalidRecipe", message=error.message)
        service = _Service(spec, recipe, state, ProgressLog(event_from_dict(e) for e in state.get("events", [])))
        self._services[service_id] = service
        phase = service.phase
        if recipe is None:
            self._save(service)
            return
        if phase in {ServiceStatus.PENDING, ServiceStatus.STARTING}:
            ended = self._ended(service) if state.get("process") else None
            if state.get("process") and ended is None:
                service.task = asyncio.ensure_future(self._resume_waiting(service))
            elif ended is not None:
                service.task = asyncio.ensure_future(
                    self._fail_start(
                        service,
                        _Failure(
                            "ProcessExited", f"{service.name} {ended.describe()} during start-up.", ended.exit_code
                        ),
                    )
                )
            else:  # the platform stopped while building the environment: carry on
                service.task = asyncio.ensure_future(self._launch(service))
        elif phase is ServiceStatus.RUNNING:
            ended = self._ended(service)
            if ended is None:
                service.task = asyncio.ensure_future(self._monitor(service))
            else:
                self._on_exit(service, ended)
        elif phase is ServiceStatus.STOPPING:
            service.task = asyncio.ensure_future(self._finish_suspend(service))
        elif phase is ServiceStatus.DELETING:
            service.deletion = asyncio.ensure_future(self._delete(service))

    async def _resume_waiting(self, service: _Service) -> None:
        try:
            launch = self._render(
                service.spec, service.runnable, service.dir, service.state["ports"], self._env_dir(service)
            )
            if service.is_job:
                self._set(service, ServiceStatus.RUNNING, message=f"The job {service.name} is running.")
                self._emit(service, "ready", 100, f"The job {service.name} is running.")
            else:
                await self._wait_ready(service, launch)
                self._set(service, ServiceStatus.RUNNING, message=f"{service.name} is running.")
                self._emit(
                    service, "ready", 100, f"{service.name} is ready" + (f" at {launch.url}." if launch.url else ".")
                )
        except _Failure as failure:
            await self._fail_start(service, failure)
            return
        await self._monitor(service)

    async def _finish_suspend(self, service: _Service) -> None:
        await self._stop_processes(service)
        self._set(service, ServiceStatus.SUSPENDED, reason="Suspended", message=f"{service.name} is suspended.")

    def _env_dir(self, service: _Service) -> Path | None:
        env_dir = service.state.get("env_dir")
        return Path(env_dir) if env_dir else None

    # -- bookkeeping ----------------------------------------------------------------------------------------

    def _get(self, service_id: str) -> _Service:
        service = self._services.get(service_id)
        if service is None:
            raise NotFound(f"There is no service {service_id!r}.")
        return service

    def _save(self, service: _Service) -> None:
        if service.spec.id in self._services:
            self.store.save(service.spec.id, service.state)

    def _set(
        self,
        service: _Service,
        phase: ServiceStatus,
        *,
        reason: str | None = None,
        message: str | None = None,
        exit_code: int | None = None,
    ) -> None:
        service.state.update(phase=phase.value, reason=reason, message=message, exit_code=exit_code)
        self._save(service)

    def _emit(self, service: _Service, kind: ProgressKind, percent: int, message: str) -> None:
        event = ProgressEvent(kind=kind, progress=percent, message=message)
        service.progress.append(event)
        service.state.setdefault("events", []).append(event.as_dict())
        self._save(service)

    def _write_log(self, service: _Service, line: str) -> None:
        with contextlib.suppress(OSError), service.log_path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")


def _booted_after(timestamp: float) -> bool:
    import psutil

    return psutil.boot_time() > timestamp > 0


def _read_tail(path: Path, tail: int | None, backups: Sequence[Path] = ()) -> tuple[int, list[str]]:
    """(size of the file, its last ``tail`` lines or all of them, taken from its rotated ``backups`` - newest
    first - too when the file alone has fewer); missing files have no lines."""
    size, lines = _read_tail_of(path, tail)
    for backup in backups:
        if tail is not None and len(lines) >= tail:
            break
        _, older = _read_tail_of(backup, None if tail is None else tail - len(lines))
        lines = older + lines
    return size, lines


def _read_tail_of(path: Path, tail: int | None) -> tuple[int, list[str]]:
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            window = size if tail is None else min(size, max(64 * 1024, tail * 400))
            handle.seek(size - window)
            data = handle.read(window)
    except OSError:
        return 0, []
    lines = data.decode(errors="replace").splitlines()
    if window < size:
        lines = lines[1:]  # the first line of the window is cut
    if tail is not None:
        lines = lines[-tail:] if tail > 0 else []
    return size, lines


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _read_from(path: Path, position: int) -> bytes:
    try:
        with path.open("rb") as handle:
            handle.seek(position)
            return handle.read()
    except OSError:
        return b""
