"""Sardonyx's own endpoints (beyond Onyxia's surface): start-up progress per service, platform status, the
local runtime's environment cache."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from sardonyx.api.deps import PlatformDep, UserDep
from sardonyx.api.sse import frame, sse_response, with_keepalive
from sardonyx.runtimes.base import ProgressEvent

router = APIRouter(tags=["sardonyx"])


@router.get(
    "/services/{serviceId}/progress",
    summary="Server-sent events: the service's start-up progress (requested, environment, starting, ready|failed)",
    description="Every event since the launch (or last resume), then live ones; the stream ends after `ready` or "
    "`failed`. Each `data:` is `{kind, progress (0-100), message, timestamp, ready, failed}`; comment lines keep "
    "the connection alive.",
)
async def progress(serviceId: str, request: Request, platform: PlatformDep, user: UserDep) -> StreamingResponse:
    stream = await platform.manager.progress(user, serviceId)

    def render(event: ProgressEvent) -> str:
        data = event.as_dict() | {"ready": event.kind == "ready", "failed": event.kind == "failed"}
        return frame(data, event="progress")

    return sse_response(with_keepalive(stream, render, request.app.state.keepalive_seconds))


@router.get(
    "/services/{serviceId}/commands",
    summary="The equivalent helm commands of a launched service (secrets masked unless `reveal=true`)",
)
async def commands(serviceId: str, platform: PlatformDep, user: UserDep, reveal: bool = False) -> dict[str, Any]:
    return await platform.manager.commands(user, serviceId, reveal=reveal)


@router.get("/platform/status", summary="What runs: version, process, S3, runtime, services per status")
def platform_status(platform: PlatformDep) -> dict[str, Any]:
    return platform.status() | {"health": platform.health()}


@router.get(
    "/platform/environments",
    summary="The local runtime's environment cache: each environment, its size and the services using it",
)
async def environments(platform: PlatformDep) -> dict[str, Any]:
    return await platform.environments()


@router.post(
    "/platform/environments/prune",
    summary="Delete the environments no service uses and no process runs (dryRun: only say which)",
)
async def prune_environments(platform: PlatformDep, dryRun: bool = False) -> dict[str, Any]:
    return await platform.prune_environments(dry_run=dryRun)


auth_router = APIRouter(prefix="/auth", tags=["auth"])


@auth_router.post(
    "/login-links",
    summary="A one-time login link for the web UI (what `sardonyx up` and `sardonyx open` print)",
    description="`{url, expiresInSeconds}`: opening `url` in a browser logs it in (a session cookie) once; the "
    "link is used up by its first login and expires after `expiresInSeconds`.",
)
def login_link(request: Request, user: UserDep, next: str = "/") -> dict[str, Any]:
    del user  # authenticated by the dependency: only a holder of the API token (or a session) gets a link
    from urllib.parse import urlencode

    from sardonyx.web.login_pages import safe_next

    authenticator = request.app.state.authenticator
    code = authenticator.new_login_code()
    query = {"code": code} | ({"next": safe_next(next)} if safe_next(next) != "/" else {})
    url = f"{str(request.base_url).rstrip('/')}/login?{urlencode(query)}"
    return {"url": url, "expiresInSeconds": authenticator.login_link_seconds}
