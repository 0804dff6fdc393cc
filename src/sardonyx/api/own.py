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


@router.get("/services/{serviceId}/commands", summary="The equivalent helm commands of a launched service")
async def commands(serviceId: str, platform: PlatformDep, user: UserDep) -> dict[str, Any]:
    return await platform.manager.commands(user, serviceId)


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
