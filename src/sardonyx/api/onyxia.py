"""The Onyxia-compatible REST surface (ONYXIA-REFERENCE 1.2, 1.3, 10): same paths, bodies and shapes, so that
Onyxia's own clients can talk to Sardonyx. Every route calls the service layer; none computes values.

Headers: ``ONYXIA-PROJECT`` selects the project (blank: the personal one; unknown: 403), ``ONYXIA-REGION`` is
accepted and ignored (one region).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from sardonyx import __version__
from sardonyx.api.deps import PlatformDep, UserDep
from sardonyx.api.problems import problem_response
from sardonyx.api.sse import frame, sse_response, with_keepalive
from sardonyx.catalog.onyxia import catalogs_json, chart_versions_json, resolved_schema_json
from sardonyx.errors import BadRequest, Forbidden, UnavailableError, Violation
from sardonyx.platform import Platform
from sardonyx.services import LaunchRequest, ServiceEvent

ProjectHeader = Annotated[
    str | None,
    Header(alias="ONYXIA-PROJECT", description="Project id (blank: the personal project)."),
]

public = APIRouter(prefix="/public", tags=["public"])
my_lab = APIRouter(prefix="/my-lab", tags=["my-lab"])
user_router = APIRouter(prefix="/user", tags=["user"])


# ------------------------------------------------------------------------------------------------ public


def region_json(platform: Platform) -> dict[str, Any]:
    """The region as Onyxia's ``Region`` (keys of ONYXIA-REFERENCE 2.1-2.4), plus ``sardonyx.runtime``."""
    settings = platform.settings
    region = settings.region
    data: dict[str, Any] = {}
    if platform.s3_endpoint is not None:
        data["S3"] = {
            "URL": platform.s3_endpoint.url,
            "pathStyleAccess": settings.s3.path_style_access,
            "region": settings.s3.region,
        }
    return {
        "id": region.id,
        "name": region.name,
        "description": region.description,
        "onyxiaAPI": {"baseURL": ""},
        "services": {
            "type": region.runtime.upper(),
            "singleNamespace": False,
            "allowNamespaceCreation": False,
            "userNamespace": True,
            "namespacePrefix": region.namespace_prefix,
            "groupNamespacePrefix": region.group_namespace_prefix,
            "authenticationMode": "none",
            "expose": {
                "domain": region.expose.domain,
                "ingress": False,
                "route": False,
                "istio": {"enabled": False, "gateways": []},
                "certManager": {"useCertManager": False, "certManagerClusterIssuer": ""},
            },
            "quotas": {"userEnabled": False, "groupEnabled": False},
            "k8sPublicEndpoint": {},
        },
        "data": data,
        "sardonyx": {"runtime": region.runtime, "host": region.expose.host},
    }


@public.get("/configuration", summary="Build and regions (what Onyxia's UI bootstraps from)")
def configuration(platform: PlatformDep) -> dict[str, Any]:
    return {
        "build": {"version": __version__, "timestamp": int(platform.started_at or time.time())},
        "regions": [region_json(platform)],
    }


@public.get("/regions", summary="The regions")
def regions(platform: PlatformDep) -> list[dict[str, Any]]:
    return [region_json(platform)]


@public.get(
    "/healthcheck",
    summary="200 once the platform and S3 are ready (catalogs that failed to load are named in `failedCatalogs`, "
    "`status: degraded`), else 503 saying what is not (a dead S3 server being restarted, start-up)",
)
def healthcheck(platform: PlatformDep) -> Response:
    health = platform.health()
    if not health["ready"]:
        problems = []
        if platform.ready and not health["s3"]:
            supervision = health.get("s3Server") or {}
            problems.append(
                supervision["message"] if supervision.get("state") in {"restarting", "failed"} else "S3 does not answer"
            )
        detail = "; ".join(problems) or "starting"
        # answered, not raised: polled every 50 ms by `sardonyx up`, a 503 here is news, not an error to log
        problem = UnavailableError(f"the platform is not ready ({detail})", health=health).to_problem(
            instance="/public/healthcheck"
        )
        return problem_response(problem)
    status = "degraded" if health["failedCatalogs"] else "ok"
    return JSONResponse({"status": status, **health})


@public.get("/catalogs", summary="Catalogs without restrictions (anonymous view)")
def public_catalogs(platform: PlatformDep) -> dict[str, Any]:
    return catalogs_json(platform.catalogs.visible_catalogs(None))


@public.get("/ip", summary="The caller's address")
def ip(request: Request) -> dict[str, str]:
    return {"ip": request.client.host if request.client else ""}


# ------------------------------------------------------------------------------------------------ user


@user_router.get("/info", summary="The user and their projects (Onyxia's OnyxiaUser)")
def user_info(user: UserDep) -> dict[str, Any]:
    return user.as_onyxia()


# ------------------------------------------------------------------------------------------------ catalogs


@my_lab.get("/catalogs", summary="Catalogs visible to the user")
def my_catalogs(platform: PlatformDep, user: UserDep) -> dict[str, Any]:
    return catalogs_json(platform.catalogs.visible_catalogs(user.claims, project_kind="user"))


@my_lab.get("/catalogs/{catalogId}/charts/{chartName}", summary="Every kept version of a chart, newest first")
def chart_versions(catalogId: str, chartName: str, platform: PlatformDep, user: UserDep) -> list[dict[str, Any]]:
    platform.catalogs.require_visible(catalogId, user.claims)
    return chart_versions_json(platform.catalogs.versions(catalogId, chartName))


@my_lab.get(
    "/schemas/{catalogId}/charts/{chartName}/versions/{version}",
    summary="The chart's values.schema.json, resolved ($ref, overwriteSchemaWith) for the user's roles",
)
def chart_schema(catalogId: str, chartName: str, version: str, platform: PlatformDep, user: UserDep) -> Response:
    platform.catalogs.require_visible(catalogId, user.claims)
    chart = platform.catalogs.chart_version(catalogId, chartName, version)
    schema = resolved_schema_json(platform.catalogs.resolved_schema(chart, user.roles))
    if schema is None:
        return Response(status_code=200)
    return Response(json.dumps(schema), media_type="application/json")


# ------------------------------------------------------------------------------------------------ services


class LaunchBody(BaseModel):
    """Onyxia's ``CreateServiceDTO``, plus ``overrides`` so that clients need not send full values."""

    model_config = ConfigDict(extra="ignore")

    catalogId: str | None = Field(default=None, description="Catalog id; omitted: the one catalog with the chart.")
    packageName: str = Field(description="Chart name, e.g. `jupyter-python`.")
    packageVersion: str | None = Field(default=None, description="Chart version; omitted: the default version.")
    name: str | None = Field(default=None, description="Service id (release name); omitted: `<chart>-<6 digits>`.")
    friendlyName: str | None = Field(default=None, description="Display name; omitted: the chart name.")
    share: bool = Field(default=False, description="Visible to the project's members.")
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="Values, full (as Onyxia's UI sends them) or partial, deep-merged over the computed defaults.",
    )
    overrides: list[str] | dict[str, Any] = Field(
        default_factory=list,
        description='Overrides applied after `options`: `["path=text", ...]` typed by the schema (like `--set`), '
        'or `{"path": typed JSON value}`.',
    )
    dryRun: bool = Field(default=False, description="Compute the values and commands, launch nothing.")
    reveal: bool = Field(default=False, description="With `dryRun`: show secrets (passwords, keys) in clear.")

    def request(self, project: str | None) -> LaunchRequest:
        set_options = self.overrides if isinstance(self.overrides, list) else []
        typed = self.overrides if isinstance(self.overrides, dict) else {}
        return LaunchRequest(
            chart=self.packageName,
            catalog_id=self.catalogId or None,
            version=self.packageVersion or None,
            name=self.name or None,
            friendly_name=self.friendlyName,
            share=self.share,
            options=self.options,
            set_options=set_options,
            overrides=typed,
            project=project,
        )


class ServiceIdBody(BaseModel):
    serviceID: str = Field(description="The service id.")


class RenameBody(ServiceIdBody):
    friendlyName: str = Field(description="The new display name.")


class ShareBody(ServiceIdBody):
    share: bool = Field(description="Visible to the project's members.")


@my_lab.put("/app", summary="Launch a service (values validated against the chart's resolved schema)")
async def launch(body: LaunchBody, platform: PlatformDep, user: UserDep, project: ProjectHeader = None) -> Any:
    request = body.request(project)
    if body.dryRun:
        return (await platform.manager.preview(user, request, reveal=body.reveal)).as_dict()
    return (await platform.manager.launch(user, request)).as_onyxia()


@my_lab.get("/services", summary="The project's services, with their server-computed status")
async def services(platform: PlatformDep, user: UserDep, project: ProjectHeader = None) -> dict[str, Any]:
    views = await platform.manager.list_services(user, project)
    return {"apps": [view.as_onyxia() for view in views], "groups": []}


@my_lab.get("/app", summary="One service")
async def get_app(
    platform: PlatformDep, user: UserDep, serviceId: Annotated[str, Query(description="The service id.")]
) -> dict[str, Any]:
    return (await platform.manager.get(user, serviceId)).as_onyxia()


@my_lab.delete("/app", summary="Delete a service (bulk: every service of the project)")
async def delete_app(
    *,
    platform: PlatformDep,
    user: UserDep,
    path: Annotated[str | None, Query(description="The service id.")] = None,
    bulk: bool = False,
    wait: Annotated[bool, Query(description="Return once the service is gone (default) or at once.")] = True,
    project: ProjectHeader = None,
) -> dict[str, Any]:
    if bulk:
        views = await platform.manager.list_services(user, project)
        for view in views:
            await platform.manager.delete(user, view.id, wait=wait)
        return {"path": path, "success": True, "deleted": [v.id for v in views]}
    if not path:
        raise BadRequest("which service?", violations=[Violation("path", "the service id is required")])
    await platform.manager.delete(user, path, wait=wait)
    return {"path": path, "success": True}


@my_lab.post("/app/suspend", summary="Suspend a service (processes stopped, directory kept)")
async def suspend(body: ServiceIdBody, platform: PlatformDep, user: UserDep) -> dict[str, Any]:
    return (await platform.manager.suspend(user, body.serviceID)).as_onyxia()


@my_lab.post("/app/resume", summary="Resume a suspended service")
async def resume(body: ServiceIdBody, platform: PlatformDep, user: UserDep) -> dict[str, Any]:
    return (await platform.manager.resume(user, body.serviceID)).as_onyxia()


@my_lab.post("/app/rename", summary="Change a service's friendly name")
async def rename(body: RenameBody, platform: PlatformDep, user: UserDep) -> dict[str, Any]:
    return (await platform.manager.rename(user, body.serviceID, body.friendlyName)).as_onyxia()


@my_lab.post("/app/share", summary="Share a service with the project's members (or not)")
async def share(body: ShareBody, platform: PlatformDep, user: UserDep) -> dict[str, Any]:
    return (await platform.manager.share(user, body.serviceID, body.share)).as_onyxia()


@my_lab.get("/app/logs", summary="A service's log (text); `follow` streams new lines until it stops")
async def logs(
    *,
    platform: PlatformDep,
    user: UserDep,
    serviceId: Annotated[str, Query(description="The service id.")],
    taskId: Annotated[str | None, Query(description="Accepted for Onyxia's clients; one task per service.")] = None,
    follow: bool = False,
    tail: Annotated[int | None, Query(ge=0, description="Only the last N lines first.")] = None,
    reveal: Annotated[bool, Query(description="Show the service's secrets in clear (masked by default).")] = False,
) -> Response:
    del taskId
    lines = await platform.manager.logs(user, serviceId, follow=follow, tail=tail, reveal=reveal)
    if not follow:
        return PlainTextResponse("".join([line + "\n" async for line in lines]))

    async def stream() -> AsyncIterator[str]:
        async for line in lines:
            yield line + "\n"

    return StreamingResponse(stream(), media_type="text/plain; charset=utf-8")


@my_lab.get("/events", summary="Server-sent events: the project's service events as Kubernetes Events")
async def events(
    request: Request,
    platform: PlatformDep,
    user: UserDep,
    project: ProjectHeader = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    after = int(last_event_id) if last_event_id and last_event_id.isdigit() else 0
    stream = await platform.manager.events(user, project, after=after)

    def render(event: ServiceEvent) -> str:
        return frame(event.as_kubernetes_event(), event_id=event.seq)

    return sse_response(with_keepalive(stream, render, request.app.state.keepalive_seconds))


@my_lab.get("/quota", summary="Quotas (not enabled on this platform: 403, as Onyxia answers then)")
def quota() -> dict[str, Any]:
    raise Forbidden("quotas are not enabled on this platform")
