"""The FastAPI application: the Onyxia-compatible surface, Sardonyx's own endpoints, RFC 7807 errors.

``create_app(platform)`` serves a platform: started by the app's lifespan when ``manage=True`` (the daemon),
or already started by the caller (tests, embedding). OpenAPI is published at ``/openapi.json``, the docs at
``/docs``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from fastapi import Depends, FastAPI

from sardonyx import __version__
from sardonyx.api import onyxia, own
from sardonyx.api.problems import install_problem_handlers
from sardonyx.auth import HostAllowlist, RequestGuard, require_user_unless_open
from sardonyx.platform import Platform

log = logging.getLogger(__name__)


def create_app(
    platform: Platform,
    *,
    manage: bool = False,
    keepalive_seconds: float = 15.0,
    on_ready: Callable[[Platform], None] | None = None,
    on_failure: Callable[[BaseException], None] | None = None,
) -> FastAPI:
    """The API application serving ``platform``.

    Args:
        manage: start the platform when the app starts and stop it when it stops.
        keepalive_seconds: interval of keep-alive comments in event streams.
        on_ready: called once the platform is ready (the daemon writes its state file there).
        on_failure: called with the error when the platform fails to start.
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if manage:
            try:
                await platform.start()
            except BaseException as error:
                if on_failure is not None:
                    on_failure(error)
                with contextlib.suppress(Exception):
                    await platform.stop()
                raise
        if on_ready is not None:
            on_ready(platform)
        try:
            yield
        finally:
            if manage:
                await platform.stop()

    app = FastAPI(
        title="Sardonyx",
        version=__version__,
        description="Launch data science services wired to S3. The `public`, `my-lab` and `user` routes follow "
        "Onyxia's REST API (same paths, bodies and shapes); errors are RFC 7807 problem details.",
        lifespan=lifespan,
        dependencies=[Depends(require_user_unless_open)],  # default deny: see sardonyx.auth
    )
    settings = platform.settings
    hosts = HostAllowlist(settings.port, bind_host=settings.host, public_hosts=settings.public_hosts)
    app.add_middleware(RequestGuard, hosts=hosts, cookie_name=platform.authenticator.cookie_name)
    app.state.platform = platform
    app.state.authenticator = platform.authenticator
    app.state.keepalive_seconds = keepalive_seconds
    install_problem_handlers(app)
    app.include_router(onyxia.public)
    app.include_router(onyxia.user_router)
    app.include_router(onyxia.my_lab)
    app.include_router(own.router)
    app.include_router(own.auth_router)
    from sardonyx import web  # the web UI (server-rendered pages) is served by the same process

    web.install(app)
    return app
