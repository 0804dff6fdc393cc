"""The service layer: the one place the CLI, the REST API and the web UI launch and manage services.

Launch flow (DESIGN.md): chart (catalog engine) -> user and project (identity) -> the project's S3 bucket and
credentials (storage) into the launch context -> values computed and validated (catalog engine, the only place)
-> sibling discovery (variables published by the project's running services) -> ``runtime.start``. Every
lifecycle transition is persisted (state store) and published (event bus).

Status: the runtime reports what it knows; the service layer adds what only the platform knows (``deleting``,
a service the runtime lost) and records every change, so that ``GET /my-lab/services`` and the events stream
agree. Failed and half-started services stay listed and deletable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shlex
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from typing import Any

from sardonyx.catalog import (
    CatalogService,
    ChartVersion,
    ComputedValues,
    GitContext,
    K8sContext,
    LaunchContext,
    Override,
    ProjectContext,
    S3Context,
    ServiceContext,
    UserContext,
    parse_set_options,
)
from sardonyx.catalog.commands import helm_commands, sardonyx_launch_command
from sardonyx.catalog.context import is_one_time_password, is_random_subdomain, random_password
from sardonyx.catalog.overrides import parse_values_path
from sardonyx.errors import BadRequest, Conflict, InvalidName, NotFound, SardonyxError, Violation
from sardonyx.identity import Project, User
from sardonyx.identity.git import GitIdentity
from sardonyx.masking import mask_text, mask_values, secret_strings
from sardonyx.runtimes.base import ProgressEvent, Runtime, RuntimeStatus, ServiceSpec, ServiceStatus
from sardonyx.runtimes.names import SERVICE_ID_MAX, name_violations
from sardonyx.services.events import EventBus
from sardonyx.services.model import LaunchPreview, LaunchRequest, ServiceEvent, ServiceView, flatten_values
from sardonyx.settings import Settings
from sardonyx.state import ServiceRecord, StateStore, Transition
from sardonyx.storage.credentials import CredentialSource, S3Credentials

log = logging.getLogger(__name__)

SETTLED = frozenset({ServiceStatus.SUCCEEDED, ServiceStatus.FAILED, ServiceStatus.SUSPENDED, ServiceStatus.STOPPED})
"""Statuses that do not change by themselves (only a user action moves them): the watcher skips them."""

_LOST_MESSAGE = "The runtime has no trace of this service (its state was lost): delete it."


class ServiceManager:
    """Launch, list, inspect, suspend, resume, rename, delete services; stream their logs, progress and events.

    Every method takes the ``User`` making the request; a service outside the user's projects is reported as
    unknown (``NotFound``), never revealed. Methods are coroutines (call them from the event loop); blocking
    work (S3 administration) runs in worker threads.

    Args:
        settings: the platform's settings (region, exposure).
        store: the state store.
        catalogs: the catalog engine (charts, schemas, values).
        runtime: the runtime of the region; this manager is its only caller.
        credentials: issues the project's S3 credentials; None when the region has no S3.
        events: where transitions are published (a new ``EventBus`` when omitted).
    """

    def __init__(
        self,
        *,
        settings: Settings,
        store: StateStore,
        catalogs: CatalogService,
        runtime: Runtime,
        credentials: CredentialSource | None = None,
        events: EventBus | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.catalogs = catalogs
        self.runtime = runtime
        self.credentials = credentials
        self.bus = events or EventBus()
        self._watcher: asyncio.Task[None] | None = None
        self._deletions: dict[str, asyncio.Task[None]] = {}
        # a service's values never change: their flattened form (Onyxia's ``env``) is computed once
        self._env_cache: dict[tuple[str, float], dict[str, str]] = {}

    # ------------------------------------------------------------------------------------------ lifecycle

    async def start(self, *, watch: bool = True) -> None:
        """Re-attach the runtime to every persisted service, record their statuses, and (``watch``) start the
        watcher that records transitions every ``settings.status_poll_seconds``."""
        await self.runtime.restore()
        for record in self.store.list_services():
            if record.status == ServiceStatus.DELETING.value:
                self._deletions[record.id] = asyncio.ensure_future(self._finish_delete(record))
        await self.refresh()
        if watch and self._watcher is None:
            self._watcher = asyncio.ensure_future(self._watch())

    async def close(self) -> None:
        """Stop the watcher and release the runtime (services keep running)."""
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        for task in list(self._deletions.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.runtime.close()

    async def refresh(self) -> None:
        """Read the live status of every service that may change by itself and record the transitions."""
        for record in self.store.list_services():
            if ServiceStatus(record.status) in SETTLED or record.status == ServiceStatus.DELETING.value:
                continue
            try:
                await self._live(record)
            except Exception:  # one broken service must not stop the watcher
                log.exception("could not read the status of %s", record.id)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.settings.status_poll_seconds)
            try:
                await self.refresh()
            except Exception:
                log.exception("the service watcher failed")

    # ------------------------------------------------------------------------------------------ launching

    async def launch(self, user: User, request: LaunchRequest) -> ServiceView:
        """Launch a service; returns once the runtime accepted it (start-up goes on in the background).

        Raises:
            NotFound: unknown catalog, chart or version.
            Forbidden: the project is not one of the user's.
            InvalidName: the requested service id is not a valid release name.
            Conflict: a service with that id exists.
            BadRequest / InvalidValues: malformed overrides, or values that do not validate (every violation).
            CatalogError: the chart version cannot be used.
            UnavailableError: the S3 server does not answer.
        """
        _check_session(request)
        project = user.project(request.project)
        chart = self._chart(user, request)
        service_id, subdomain = self._service_id(chart, request.name, request.random_subdomain)
        computed = await self._compute(user, project, chart, request, subdomain)
        discovery = await self._discovery(project.id)
        now = time.time()
        record = ServiceRecord(
            id=service_id,
            project=project.id,
            owner=user.idep,
            catalog_id=chart.catalog_id,
            chart=chart.name,
            version=chart.version,
            friendly_name=(request.friendly_name or chart.name).strip() or chart.name,
            values=computed.values,
            created_at=now,
            status=ServiceStatus.PENDING.value,
            reason=None,
            message=f"Launch of {request.friendly_name or chart.name} requested.",
            updated_at=now,
            share=request.share,
        )
        try:
            self.store.add_service(record)
        except Exception as error:  # the id was taken between the check and the insert
            if self.store.has_service(service_id):
                raise Conflict(f"a service named {service_id!r} already exists") from error
            raise
        self._publish_latest(service_id)
        spec = ServiceSpec(
            id=service_id,
            project=project.id,
            owner=user.idep,
            catalog_id=chart.catalog_id,
            chart=chart.name,
            version=chart.version,
            values=computed.helm_values(),
            recipe=chart.recipe,
            chart_dir=str(chart.directory) if chart.directory is not None else None,
            discovery=discovery,
            friendly_name=record.friendly_name,
        )
        try:
            await self.runtime.start(spec)
        except SardonyxError:
            # refused before anything ran (no recipe, invalid recipe, conflict): nothing is left behind
            self.store.remove_service(service_id)
            raise
        except Exception as error:
            log.exception("the runtime failed to start %s", service_id)
            self._record(service_id, ServiceStatus.FAILED.value, "RuntimeError", f"The runtime failed: {error}")
            raise
        return await self._live(self.store.get_service(service_id))

    async def preview(self, user: User, request: LaunchRequest, *, reveal: bool = False) -> LaunchPreview:
        """Compute a launch without starting it (Onyxia's ``dryRun``): values and equivalent commands, secrets
        masked unless ``reveal``.

        The preview uses placeholder credentials (``<AWS_ACCESS_KEY_ID>``...) and issues none. Raises as ``launch``.
        """
        _check_session(request)
        project = user.project(request.project)
        chart = self._chart(user, request)
        service_id, subdomain = self._service_id(chart, request.name, request.random_subdomain)
        computed = await self._compute(user, project, chart, request, subdomain, issue=False)
        state = self.catalogs.state(chart.catalog_id)
        default_version = self.catalogs.chart_version(chart.catalog_id, chart.name).version
        version = None if chart.version == default_version else chart.version
        helm = helm_commands(
            state.config,
            chart,
            release=service_id,
            values=computed.values,
            namespace=None if project.is_personal else project.id,
            version=version,
            reveal=reveal,
        )
        sardonyx = sardonyx_launch_command(
            chart.name,
            computed.changes(),
            catalog_id=self.catalogs.catalog_option(chart, user.claims),
            version=version,
            name=request.friendly_name,
            reveal=reveal,
        )
        values = computed.values if reveal else mask_values(computed.values)
        return LaunchPreview(service_id, chart.catalog_id, chart.name, chart.version, project.id, values,
                             helm, sardonyx)  # fmt: skip

    def _chart(self, user: User, request: LaunchRequest) -> ChartVersion:
        if request.catalog_id:
            self.catalogs.require_visible(request.catalog_id, user.claims)
            return self.catalogs.chart_version(request.catalog_id, request.chart, request.version or None)
        return self.catalogs.find_chart(request.chart, request.version or None, claims=user.claims)

    def _service_id(self, chart: ChartVersion, requested: str | None, subdomain: str | None) -> tuple[str, str]:
        """``(service id, k8s.randomSubdomain)``: the requested id, validated, or ``<chart>-<digits>`` whose
        digits are also the launch's random subdomain (Onyxia's release name, ONYXIA-REFERENCE 4.2).
        ``subdomain``, a launcher session's, is kept as the random subdomain; the id takes it when free."""
        if requested:
            problems = name_violations(requested, field="name", max_length=SERVICE_ID_MAX)
            if problems:
                raise InvalidName(f"{requested!r} cannot name a service", violations=problems)
            if self.store.has_service(requested):
                raise Conflict(f"a service named {requested!r} already exists")
            return requested, subdomain or str(secrets.randbelow(1_000_000))
        stem = chart.name.lower().replace("_", "-").replace(".", "-")[: SERVICE_ID_MAX - 7].strip("-") or "service"
        if subdomain is not None:
            candidate = f"{stem}-{subdomain}"
            if not self.store.has_service(candidate):
                return candidate, subdomain
        for _ in range(100):
            number = 100_000 + secrets.randbelow(900_000)
            candidate = f"{stem}-{number}"
            if not self.store.has_service(candidate):
                return candidate, subdomain or str(number)
        raise Conflict(f"could not find a free service name for chart {chart.name!r}")  # pragma: no cover

    async def _compute(
        self,
        user: User,
        project: Project,
        chart: ChartVersion,
        request: LaunchRequest,
        subdomain: str,
        *,
        issue: bool = True,
    ) -> ComputedValues:
        """Values of a launch; ``issue=False`` puts placeholders where the S3 keys go (previews)."""
        overrides = launch_overrides(request)
        credentials: S3Credentials | None = None
        if self.credentials is not None:
            if issue:
                credentials = await asyncio.to_thread(self.credentials.for_project, project.id)
            else:
                credentials = self.credentials.placeholder(project.id)
        context = self.launch_context(
            user, project, credentials, subdomain, one_time_password=request.one_time_password
        )
        return self.catalogs.compute_values(chart, context, overrides, roles=user.roles)

    def launch_context(
        self,
        user: User,
        project: Project,
        credentials: S3Credentials | None,
        subdomain: str,
        *,
        one_time_password: str | None = None,
    ) -> LaunchContext:
        """The launch context of one launch (Onyxia's ``XOnyxiaContext``, ONYXIA-REFERENCE 3.5).

        ``one_time_password`` is ``service.oneTimePassword`` when a launcher session already drew it (so the
        service gets the password its form showed); None draws a new one.

        ``s3.AWS_S3_ENDPOINT`` is the host (and port) for an https endpoint, as Onyxia gives it; for a plain
        http endpoint (the embedded SeaweedFS) it keeps its ``http://`` scheme, since charts assume https
        otherwise. ``s3.AWS_BUCKET_NAME`` / ``s3.workingDirectoryPath`` (older context keys some charts still
        read) name the project's bucket.
        """
        password = self.store.project_password(project.id, random_password)
        s3: S3Context | None = None
        if credentials is not None:
            s3_context = credentials.launch_context()
            if credentials.endpoint_url.startswith("http://"):
                s3_context["AWS_S3_ENDPOINT"] = credentials.endpoint_url
            s3 = S3Context(**s3_context)
        expose = self.settings.region.expose
        return LaunchContext(
            user=UserContext(
                idep=user.idep,
                name=user.name,
                email=user.email,
                password=password,
                ip=user.ip,
                decodedIdToken={"preferred_username": user.idep, "groups": list(user.groups)},
            ),
            project=ProjectContext.of(project.id, password),
            service=ServiceContext(oneTimePassword=one_time_password or random_password()),
            s3=s3,
            git=self.git_context(user),
            k8s=K8sContext(domain=expose.domain, ingressClassName="", randomSubdomain=subdomain),
        )

    def git_context(self, user: User) -> GitContext:
        """``git.*`` of the launch context: the identity saved on the account page, else the user's name and
        e-mail (``sardonyx.identity.git``)."""
        saved = GitIdentity.load(self.store, user.idep)
        return GitContext(
            name=saved.name or user.name,
            email=saved.email or user.email,
            credentials_cache_duration=saved.credentials_cache_duration,
            token=saved.token or None,
        )

    async def _discovery(self, project: str) -> dict[str, str]:
        """Variables published by the project's running services, the most recent launch first."""
        published: dict[str, str] = {}
        for record in reversed(self.store.list_services(project)):
            if record.status != ServiceStatus.RUNNING.value:
                continue
            try:
                variables = await self.runtime.discovery(record.id)
            except NotFound:
                continue
            for name, value in variables.items():
                published.setdefault(name, value)
        return published

    # ------------------------------------------------------------------------------------------ reading

    async def list_services(self, user: User, project: str | None = None) -> list[ServiceView]:
        """The services of a project of the user (personal when None), oldest first, with live statuses."""
        chosen = user.project(project)
        return [await self._live(record) for record in self.store.list_services(chosen.id)]

    async def get(self, user: User, service_id: str, *, notes: bool = True) -> ServiceView:
        """One service, live, with its rendered post-install notes (``notes``). Raises ``NotFound``."""
        view = await self._live(self._owned(user, service_id))
        if notes and view.status is not ServiceStatus.DELETING:
            try:
                text = await self.runtime.notes(service_id)
            except NotFound:
                text = None
            view = _with_notes(view, text)
        return view

    async def commands(self, user: User, service_id: str, *, reveal: bool = False) -> dict[str, list[str]]:
        """The equivalent Helm commands of a launched service (install with its values, uninstall), as
        Onyxia's command bar shows them, secrets masked unless ``reveal``. Raises ``NotFound`` (also when its
        chart version left the catalog)."""
        record = self._owned(user, service_id)
        state = self.catalogs.state(record.catalog_id)
        chart = self.catalogs.chart_version(record.catalog_id, record.chart, record.version)
        default_version = self.catalogs.chart_version(record.catalog_id, record.chart).version
        personal = record.project == user.personal_project.id
        install = helm_commands(
            state.config,
            chart,
            release=record.id,
            values=record.values,
            namespace=None if personal else record.project,
            version=None if record.version == default_version else record.version,
            reveal=reveal,
        )
        uninstall = ["helm", "uninstall", record.id] + ([] if personal else ["--namespace", record.project])
        return {"install": install, "uninstall": [shlex.join(uninstall)]}

    async def logs(
        self, user: User, service_id: str, *, follow: bool = False, tail: int | None = None, reveal: bool = False
    ) -> AsyncIterator[str]:
        """The service's log lines (``follow``: then new ones until it stops), its secrets (values under secret
        keys: password, tokens, S3 secret key) masked unless ``reveal``. Raises ``NotFound`` at once."""
        record = self._owned(user, service_id)
        if tail is not None and tail < 0:
            raise BadRequest("tail must be positive", violations=[Violation("tail", "must be >= 0")])
        try:
            await self.runtime.status(service_id)
        except NotFound:
            return _empty()
        lines = self.runtime.logs(service_id, follow=follow, tail=tail)
        return lines if reveal else _masked_lines(lines, secret_strings(record.values))

    async def progress(self, user: User, service_id: str) -> AsyncIterator[ProgressEvent]:
        """Start-up progress events since the launch (or the last resume), then live until ready or failed.
        Raises ``NotFound`` at once."""
        record = self._owned(user, service_id)
        try:
            await self.runtime.status(service_id)
        except NotFound:
            message = record.message or _LOST_MESSAGE
            return _single(ProgressEvent("failed", 100, message))
        return self.runtime.progress(service_id)

    async def events(
        self, user: User, project: str | None = None, *, after: int = 0, history: int = 100
    ) -> AsyncIterator[ServiceEvent]:
        """The project's service events: the last ``history`` recorded ones after ``after`` (a ``seq``), then
        live ones, forever (the caller stops iterating)."""
        chosen = user.project(project)
        return self._event_stream(chosen.id, after, history)

    async def _event_stream(self, project: str, after: int, history: int) -> AsyncIterator[ServiceEvent]:
        async with self.bus.subscribe(project) as queue:
            past = self.store.transitions(project=project, after=after, limit=1_000_000)[-history:]
            last = after
            for transition in past:
                last = transition.seq
                yield _event(transition)
            while True:
                event = await queue.get()
                if event.seq > last:
                    last = event.seq
                    yield event

    # ------------------------------------------------------------------------------------------ actions

    async def suspend(self, user: User, service_id: str) -> ServiceView:
        """Stop the service's processes, keep its directory. Raises ``NotFound``, ``BadRequest`` (a job, or
        nothing to suspend)."""
        record = self._owned(user, service_id)
        self._refuse_deleting(record)
        await self.runtime.suspend(service_id)
        return await self._live(record)

    async def resume(self, user: User, service_id: str) -> ServiceView:
        """Start a suspended (or stopped, or failed) service again with the same values."""
        record = self._owned(user, service_id)
        self._refuse_deleting(record)
        await self.runtime.resume(service_id)
        return await self._live(record)

    async def rename(self, user: User, service_id: str, friendly_name: str) -> ServiceView:
        """Change the friendly name (1-200 characters, no control characters)."""
        self._owned(user, service_id)
        name = friendly_name.strip()
        if not name or len(name) > 200 or any(ord(c) < 32 for c in name):
            raise BadRequest(
                "invalid friendly name",
                violations=[Violation("friendlyName", "1 to 200 characters, no control characters")],
            )
        return await self._live(self.store.rename_service(service_id, name))

    async def share(self, user: User, service_id: str, share: bool) -> ServiceView:
        """Set Onyxia's ``share`` flag."""
        self._owned(user, service_id)
        return await self._live(self.store.share_service(service_id, share))

    async def delete(self, user: User, service_id: str, *, wait: bool = True) -> None:
        """Stop and remove the service (``deleting`` meanwhile); with ``wait``, return once it is gone.
        Idempotent while a deletion is in progress. Raises ``NotFound`` for an unknown service."""
        record = self._owned(user, service_id)
        task = self._deletions.get(service_id)
        if task is None:
            self._record(service_id, ServiceStatus.DELETING.value, None, "The service is being deleted.")
            task = asyncio.ensure_future(self._finish_delete(record))
            self._deletions[service_id] = task
        if wait:
            await asyncio.shield(task)

    async def _finish_delete(self, record: ServiceRecord) -> None:
        try:
            # NotFound: the runtime never had it (refused start) or lost it; forgetting it is enough
            with contextlib.suppress(NotFound):
                await self.runtime.delete(record.id)
            self.store.delete(record.id)  # runtime state, in case the runtime left it
            self.store.remove_service(record.id)
            self._env_cache.pop((record.id, record.created_at), None)
            transition = self.store.add_transition(
                record.id, record.project, "deleted", None, "The service was deleted."
            )
            self.bus.publish(_event(transition))
        except Exception as error:
            log.exception("could not delete %s", record.id)
            if self.store.has_service(record.id):
                self._record(record.id, ServiceStatus.FAILED.value, "DeleteFailed", f"The deletion failed: {error}")
            raise
        finally:
            self._deletions.pop(record.id, None)

    # ------------------------------------------------------------------------------------------ helpers

    def _owned(self, user: User, service_id: str) -> ServiceRecord:
        record = self.store.find_service(service_id)
        if record is None or record.project not in {p.id for p in user.projects}:
            raise NotFound(f"no service {service_id!r}")
        return record

    @staticmethod
    def _refuse_deleting(record: ServiceRecord) -> None:
        if record.status == ServiceStatus.DELETING.value:
            raise Conflict(f"{record.id} is being deleted")

    def _env(self, record: ServiceRecord) -> dict[str, str]:
        key = (record.id, record.created_at)
        env = self._env_cache.get(key)
        if env is None:
            if len(self._env_cache) > 10_000:
                self._env_cache.clear()
            env = self._env_cache[key] = flatten_values(record.values)
        return env

    async def _live(self, record: ServiceRecord) -> ServiceView:
        """The record with the runtime's current status, the change recorded."""
        if record.status == ServiceStatus.DELETING.value:
            view = _view(record, RuntimeStatus(ServiceStatus.DELETING, record.reason, record.message))
            return replace(view, env=self._env(record))
        try:
            status = await self.runtime.status(record.id)
        except NotFound:
            if record.status == ServiceStatus.FAILED.value and record.reason:
                status = RuntimeStatus(ServiceStatus.FAILED, record.reason, record.message)
            else:
                status = RuntimeStatus(ServiceStatus.FAILED, "Lost", _LOST_MESSAGE)
        if (status.status.value, status.reason, status.message) != (record.status, record.reason, record.message):
            self._record(record.id, status.status.value, status.reason, status.message)
            record = self.store.find_service(record.id) or record
        return replace(_view(record, status), env=self._env(record), login_query=self._login_query(record))

    def _login_query(self, record: ServiceRecord) -> str | None:
        """The chart's ``sardonyx.dev/login-query`` (see ``ServiceView.login_query``); None once it left the catalog."""
        try:
            chart = self.catalogs.chart_version(record.catalog_id, record.chart, record.version)
        except SardonyxError:
            return None
        return chart.annotations.get("sardonyx.dev/login-query") or None

    def _record(self, service_id: str, status: str, reason: str | None, message: str | None) -> None:
        transition = self.store.record_status(service_id, status, reason, message)
        if transition is not None:
            self.bus.publish(_event(transition))

    def _publish_latest(self, service_id: str) -> None:
        transitions = self.store.transitions(service_id=service_id)
        if transitions:
            self.bus.publish(_event(transitions[-1]))


def _check_session(request: LaunchRequest) -> None:
    """Refuse launcher-session values that a launcher could not have drawn (the password is never echoed).

    Raises:
        BadRequest: every malformed one.
    """
    problems: list[Violation] = []
    if request.one_time_password is not None and not is_one_time_password(request.one_time_password):
        problems.append(Violation("oneTimePassword", "must be 16 to 128 letters and digits"))
    if request.random_subdomain is not None and not is_random_subdomain(request.random_subdomain):
        problems.append(Violation("randomSubdomain", "must be 1 to 6 digits"))
    if problems:
        raise BadRequest("invalid launcher session", violations=problems)


def launch_overrides(request: LaunchRequest) -> list[Override]:
    """The request's ``options`` (flattened to typed leaves), then ``set_options``, then ``overrides``.

    Raises:
        BadRequest: malformed ``--set`` options or override paths (every one listed).
    """
    overrides: list[Override] = []
    if request.options:
        overrides.extend(Override.typed(path, value) for path, value in _leaves(request.options, ()))
    overrides.extend(parse_set_options(list(request.set_options)))
    problems: list[Violation] = []
    for path_text, value in request.overrides.items():
        try:
            overrides.append(Override.typed(parse_values_path(path_text), value))
        except ValueError as error:
            problems.append(Violation(path_text, str(error)))
    if problems:
        raise BadRequest("malformed override paths", violations=problems)
    return overrides


def _leaves(values: Mapping[str, Any], path: tuple[str | int, ...]) -> list[tuple[tuple[str | int, ...], Any]]:
    """Leaves of a values tree; an empty object contributes nothing (deep-merge semantics), lists are leaves."""
    leaves: list[tuple[tuple[str | int, ...], Any]] = []
    for key, value in values.items():
        if isinstance(value, Mapping):
            leaves.extend(_leaves(value, (*path, str(key))))
        else:
            leaves.append(((*path, str(key)), value))
    return leaves


def _view(record: ServiceRecord, status: RuntimeStatus) -> ServiceView:
    return ServiceView(
        id=record.id,
        project=record.project,
        owner=record.owner,
        catalog_id=record.catalog_id,
        chart=record.chart,
        version=record.version,
        friendly_name=record.friendly_name,
        share=record.share,
        status=status.status,
        reason=status.reason,
        message=status.message,
        values=record.values,
        created_at=record.created_at,
        updated_at=record.updated_at,
        urls=status.urls if status.status is ServiceStatus.RUNNING else (),
        tasks=status.tasks,
        started_at=status.started_at,
        exit_code=status.exit_code,
        suspendable=status.suspendable,
        job=status.job,
    )


def _with_notes(view: ServiceView, notes: str | None) -> ServiceView:
    return replace(view, notes=notes)


def _event(transition: Transition) -> ServiceEvent:
    return ServiceEvent(
        seq=transition.seq,
        service_id=transition.service_id,
        project=transition.project,
        status=transition.status,
        reason=transition.reason,
        message=transition.message,
        at=transition.at,
    )


async def _empty() -> AsyncIterator[str]:
    return
    yield  # pragma: no cover - makes this an async generator


async def _masked_lines(lines: AsyncIterator[str], secrets: set[str]) -> AsyncIterator[str]:
    async for line in lines:
        yield mask_text(line, secrets)


async def _single(event: ProgressEvent) -> AsyncIterator[ProgressEvent]:
    yield event
