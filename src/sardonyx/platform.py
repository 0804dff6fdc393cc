"""The platform process's parts, built from the settings and started/stopped together.

``Platform(settings)`` wires the state store (SQLite), the embedded S3 server (SeaweedFS), its supervisor and
its credential issuer, the catalog engine, the runtime of the region and the service layer; ``start()`` brings
them up (S3, catalogs and the runtime's re-attachment run concurrently; then the S3 server is watched and
restarted if it dies) and ``stop()`` stops what the platform owns (the S3 server, the watchers) while services
keep running. The API server, the daemon and the tests use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from sardonyx import __version__
from sardonyx.catalog import CatalogService
from sardonyx.errors import BadRequest, UnavailableError
from sardonyx.identity import User, local_user
from sardonyx.runtimes.base import Runtime
from sardonyx.services import ServiceManager
from sardonyx.settings import Settings
from sardonyx.state import StateStore, default_database
from sardonyx.storage.browse import BucketBrowser
from sardonyx.storage.credentials import CredentialIssuer, CredentialSource
from sardonyx.storage.seaweedfs import S3Endpoint, SeaweedFS
from sardonyx.storage.supervision import S3Supervisor

if TYPE_CHECKING:
    from sardonyx.runtimes.local import LocalRuntime

log = logging.getLogger(__name__)


def make_runtime(settings: Settings, store: StateStore) -> Runtime:
    """The runtime of the region (``settings.region.runtime``), persisting its state in ``store``."""
    if settings.region.runtime == "fake":
        from sardonyx.runtimes.fake import FakeRuntime

        return FakeRuntime(store)
    from sardonyx.runtimes.local import LocalRuntime

    return LocalRuntime(
        store,
        settings.data_dir,
        envs_dir=settings.environments_dir,
        log_max_bytes=settings.service_log_max_bytes,
        log_backups=settings.service_log_backups,
    )


class Platform:
    """Every part of a running platform (see the module docstring).

    Args:
        settings: the settings.
        runtime: a runtime to use instead of the region's (tests).
        credentials: a credential source to use instead of the region's S3 (tests).
        catalogs: a catalog service to use instead of the configured catalogs (tests).
        store: a state store instead of ``<data_dir>/sardonyx.db`` (tests).
        seaweedfs: the embedded S3 server, when the caller already spawned it (the daemon does, first thing,
            so that it boots while Python imports the rest).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        runtime: Runtime | None = None,
        credentials: CredentialSource | None = None,
        catalogs: CatalogService | None = None,
        store: StateStore | None = None,
        seaweedfs: SeaweedFS | None = None,
    ) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.store = store or StateStore(default_database(settings.data_dir))
        self.user: User = local_user(settings)
        from sardonyx.auth import LocalAuthenticator, ensure_api_token

        self.authenticator = LocalAuthenticator(
            self.user,
            ensure_api_token(settings.data_dir),
            port=settings.port,
            session_max_age=settings.auth.session_max_age_seconds,
            login_link_seconds=settings.auth.login_link_seconds,
        )
        self.seaweedfs: SeaweedFS | None = None
        self.s3_endpoint: S3Endpoint | None = None
        issuer: CredentialSource | None = credentials
        if credentials is None:
            s3 = settings.s3
            if s3.embedded:
                self.seaweedfs = seaweedfs or SeaweedFS.for_settings(settings)
                self.s3_endpoint = self.seaweedfs.endpoint
            elif s3.endpoint:
                if not (s3.admin_access_key_id and s3.admin_secret_access_key):
                    raise UnavailableError("an external S3 endpoint needs s3.admin_access_key_id and secret key")
                self.s3_endpoint = S3Endpoint(
                    s3.endpoint.rstrip("/"), s3.admin_access_key_id, s3.admin_secret_access_key, s3.region
                )
            if self.s3_endpoint is not None:
                issuer = CredentialIssuer(self.s3_endpoint, self.store, path_style_access=s3.path_style_access)
        self.credentials = issuer
        self.catalogs = catalogs or CatalogService.from_settings(settings)
        self.runtime = runtime or make_runtime(settings, self.store)
        self.manager = ServiceManager(
            settings=settings, store=self.store, catalogs=self.catalogs, runtime=self.runtime, credentials=issuer
        )
        self.ready = False
        self.started_at: float | None = None
        self._warm_up: asyncio.Future[None] | None = None
        self.s3_supervisor: S3Supervisor | None = None
        if self.seaweedfs is not None:
            s3 = settings.s3
            self.s3_supervisor = S3Supervisor(
                self.seaweedfs,
                interval=s3.supervise_interval_seconds,
                max_restarts=s3.max_restarts,
                window=s3.restart_window_seconds,
                backoff=s3.restart_backoff_seconds,
                start_timeout=s3.start_timeout_seconds,
            )

    async def start(self, *, watch: bool = True) -> None:
        """Start S3, load the catalogs and re-attach the runtime, concurrently; return once all are ready.

        Raises:
            PortInUse: a port of the S3 server is taken.
            UnavailableError: the S3 server did not start.
        """
        begin = time.perf_counter()
        if self.seaweedfs is not None:
            await asyncio.to_thread(self.seaweedfs.spawn)
        catalogs = asyncio.ensure_future(asyncio.to_thread(self.catalogs.load))
        try:
            await self.manager.start(watch=watch)
            if self.seaweedfs is not None:
                await asyncio.to_thread(self.seaweedfs.wait_ready, self.settings.s3.start_timeout_seconds)
        finally:
            await catalogs
        self.catalogs.start_refresh()  # failed catalogs are retried there, with back-off
        if watch and self.s3_supervisor is not None:
            self.s3_supervisor.start()
        self.ready = True
        self.started_at = time.time()
        log.info("platform ready in %.2f s", time.perf_counter() - begin)
        if self.credentials is not None:
            # the personal bucket and keys, in the background: the first launch then does not wait for them
            self._warm_up = asyncio.ensure_future(self._issue_personal_credentials(self.credentials))

    async def _issue_personal_credentials(self, credentials: CredentialSource) -> None:
        try:
            await asyncio.to_thread(credentials.for_project, self.user.personal_project.id)
        except Exception as error:  # the first launch will retry and report it
            log.warning("could not prepare the S3 credentials of %s: %s", self.user.personal_project.id, error)

    async def stop(self, *, stop_s3: bool = True) -> None:
        """Stop the watchers, the catalog refresh and (``stop_s3``) the S3 server; services keep running."""
        self.ready = False
        if self.s3_supervisor is not None:
            await self.s3_supervisor.stop()  # first: it must not restart the server stopped below
        if self._warm_up is not None:
            with contextlib.suppress(Exception):
                await self._warm_up
        await self.manager.close()
        self.catalogs.stop_refresh()
        if stop_s3 and self.seaweedfs is not None:
            await asyncio.to_thread(self.seaweedfs.stop)
        self.store.close()

    async def browser(self, user: User, project: str | None = None) -> BucketBrowser:
        """A browser of the bucket of one of the user's projects (personal when None), its credentials issued on
        first use (what the web UI's "My files" uses).

        Raises:
            Forbidden: not one of the user's projects.
            UnavailableError: the region has no S3, or it does not answer.
        """
        chosen = user.project(project)
        if self.credentials is None:
            raise UnavailableError("this region has no S3 storage")
        credentials = await asyncio.to_thread(self.credentials.for_project, chosen.id)
        return BucketBrowser(credentials)

    def _local_runtime(self) -> LocalRuntime:
        from sardonyx.runtimes.local import LocalRuntime

        if not isinstance(self.runtime, LocalRuntime):
            raise BadRequest(f"the {self.runtime.kind} runtime of this region builds no environments")
        return self.runtime

    async def environments(self) -> dict[str, Any]:
        """The local runtime's environment cache: ``{"root", "environments": [...], "leftovers", "size"}`` (each
        environment with the services using it, see ``LocalRuntime.environments``).

        Raises:
            BadRequest: the region's runtime is not the local one.
        """
        runtime = self._local_runtime()
        entries = await asyncio.to_thread(runtime.environments)
        leftovers = await asyncio.to_thread(runtime.envs.leftovers)
        return {
            "root": str(runtime.envs.root),
            "environments": entries,
            "leftovers": [str(p) for p in leftovers],
            "size": sum(int(e["size"]) for e in entries),
        }

    async def prune_environments(self, *, dry_run: bool = False) -> dict[str, Any]:
        """Delete the environments no service uses (``LocalRuntime.prune_environments``).

        Raises:
            BadRequest: the region's runtime is not the local one.
        """
        runtime = self._local_runtime()
        return await asyncio.to_thread(runtime.prune_environments, dry_run=dry_run)

    def health(self) -> dict[str, Any]:
        """``{"ready", "s3", "catalogs", "failedCatalogs"}`` (plus ``s3Server``, the supervision of the embedded S3
        server: state, pid, restarts, last exit, message): what the health check reports.

        A catalog that cannot load does not make the platform unready: the others serve, it is retried with
        back-off, and ``failedCatalogs`` names it with its error (``sardonyx up`` and ``sardonyx status`` say so).
        """
        states = self.catalogs.states() if self.ready else []
        catalogs = {state.id: state.loaded for state in states}
        failed = {state.id: state.error or "not loaded yet" for state in states if not state.loaded}
        s3_ok = self.seaweedfs.is_healthy() if (self.ready and self.seaweedfs is not None) else self.ready
        supervision = self.s3_supervisor.snapshot().as_dict() if self.s3_supervisor is not None else None
        if supervision is not None and supervision["state"] != "running":
            s3_ok = False  # a server being restarted may answer before its restart is complete: not ready yet
        health: dict[str, Any] = {
            "ready": self.ready and s3_ok,
            "s3": s3_ok,
            "catalogs": catalogs,
            "failedCatalogs": failed,
        }
        if supervision is not None:
            health["s3Server"] = supervision
        return health

    def status(self) -> dict[str, Any]:
        """What ``sardonyx status`` shows: version, process, URLs, S3, runtime, services per status."""
        counts = Counter(record.status for record in self.store.list_services())
        return {
            "version": __version__,
            "pid": os.getpid(),
            "url": self.settings.api_url,
            "startedAt": self.started_at,
            "dataDir": str(self.settings.data_dir),
            "runtime": self.runtime.kind,
            "s3": {
                "endpoint": self.s3_endpoint.url if self.s3_endpoint is not None else None,
                "embedded": self.seaweedfs is not None,
                "pid": self.seaweedfs.running_pid() if self.seaweedfs is not None else None,
                "supervision": self.s3_supervisor.snapshot().as_dict() if self.s3_supervisor is not None else None,
            },
            "user": self.user.idep,
            "project": self.user.personal_project.id,
            "services": dict(sorted(counts.items())),
        }
