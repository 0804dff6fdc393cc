"""Catalog and launcher pages.

- ``GET /catalog`` and ``/catalog/<catalog>?q=``: tabs (catalogs the user sees, ``PROD`` status), chart cards
  (icon, name, description, version), highlighted charts first, search over name and description.
- ``GET /launcher/<catalog>/<chart>?name=..&version=..&autoLaunch=true&a.b=«text»``: the launcher, pre-filled
  from a launch URL in Onyxia's syntax; ``autoLaunch=true`` launches at once when the values are valid.
- ``POST /launcher/<catalog>/<chart>``: the form sent back: ``action=launch`` launches (or shows every
  violation next to its field), ``preview`` recomputes the side panel, ``restore`` goes back to the defaults,
  ``add:``/``remove:`` change array items.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from sardonyx.catalog import BUILTIN_CATALOG_ID, ChartVersion, LaunchContext, Override, localized, parse_launch_url
from sardonyx.catalog.commands import validate_release_name
from sardonyx.catalog.context import is_one_time_password, is_random_subdomain, random_password, random_subdomain
from sardonyx.catalog.jsonvalues import ValuesPath, format_path
from sardonyx.catalog.service import CatalogState
from sardonyx.errors import BadRequest, NotFound, SardonyxError, Violation
from sardonyx.web.launcher import LauncherState, apply_action, launch_url, launcher_state
from sardonyx.web.render import page
from sardonyx.web.routing import WebRoute, platform_of

log = logging.getLogger(__name__)

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@dataclass(frozen=True)
class CatalogTab:
    id: str
    name: str
    description: str
    error: str | None


@dataclass(frozen=True)
class ChartCard:
    name: str
    version: str
    description: str
    icon: str | None
    highlighted: bool


def _tab(state: CatalogState) -> CatalogTab:
    config = state.config
    name = localized(config.name) if config.name else config.id
    description = localized(config.description) if config.description else ""
    return CatalogTab(id=config.id, name=name or config.id, description=description or "", error=state.error)


def _matches(chart: ChartVersion, query: str) -> bool:
    needle = query.strip().lower()
    return not needle or needle in chart.name.lower() or needle in chart.description.lower()


def _visible_tabs(request: Request) -> list[CatalogState]:
    platform = platform_of(request)
    user = platform.user
    return platform.catalogs.visible_catalogs(user.claims, project_kind="user", include_test=False)


@router.get("/")
async def home() -> Response:
    return RedirectResponse("/catalog", status_code=303)


@router.get("/catalog")
async def catalog_index(request: Request, q: str = "") -> Response:
    states = _visible_tabs(request)
    if not states:
        return page(request, "catalog_empty.html", {"active": "catalog"})
    target = f"/catalog/{states[0].id}"
    return RedirectResponse(f"{target}?q={q}" if q else target, status_code=303)


@router.get("/catalog/{catalog_id}")
async def catalog_page(request: Request, catalog_id: str, q: str = "") -> Response:
    states = _visible_tabs(request)
    current = next((s for s in states if s.id == catalog_id), None)
    if current is None:
        known = ", ".join(s.id for s in states) or "none"
        raise NotFound(f"there is no catalog {catalog_id!r} (catalogs: {known})")
    cards: list[ChartCard] = []
    if current.catalog is not None:
        highlighted = set(current.config.highlighted_charts)
        for chart in current.catalog.latest_charts():
            if _matches(chart, q):
                cards.append(
                    ChartCard(chart.name, chart.version, chart.description, chart.icon, chart.name in highlighted)
                )
    return page(
        request,
        "catalog.html",
        {"active": "catalog", "tabs": [_tab(s) for s in states], "current": _tab(current), "cards": cards, "query": q},
    )


# ------------------------------------------------------------------------------------------------ launcher


@dataclass(frozen=True)
class LauncherSession:
    """The random parts of the launch context, drawn once per launcher session as Onyxia's launcher does
    (``k8s.randomSubdomain``, ``service.oneTimePassword``) and kept across the form's submissions, so that the
    defaults derived from them stay put and the launched service gets exactly what the form showed.

    They travel in the form's hidden inputs (``subdomain``, ``otp``: POST bodies, never a URL) and are handed
    to the service layer at launch; a missing or malformed one is drawn again.
    """

    subdomain: str
    one_time_password: str = field(repr=False)

    @classmethod
    def of(cls, data: Mapping[str, str] | None = None) -> LauncherSession:
        data = data or {}
        subdomain = data.get("subdomain")
        password = data.get("otp")
        return cls(
            subdomain=subdomain if is_random_subdomain(subdomain) else random_subdomain(),
            one_time_password=password if is_one_time_password(password) else random_password(),
        )


def _context(request: Request, session: LauncherSession) -> LaunchContext:
    """The launch context the form shows (placeholder S3 keys: nothing is issued just to look at a form)."""
    platform = platform_of(request)
    user = platform.user
    project = user.personal_project
    credentials = platform.credentials.placeholder(project.id) if platform.credentials is not None else None
    return platform.manager.launch_context(
        user, project, credentials, session.subdomain, one_time_password=session.one_time_password
    )


def _shareable(state: LauncherState, changes: Sequence[tuple[ValuesPath, Any]]) -> list[tuple[ValuesPath, Any]]:
    """The changes a launch URL may carry: not those of password fields (a link gets passed around; whoever
    opens it gets their own one-time password)."""
    secret = {tuple(node.path) for node in state.form.nodes() if node.widget == "password"}
    return [(path, value) for path, value in changes if tuple(path) not in secret]


def _chart(request: Request, catalog_id: str, chart_name: str, version: str | None) -> ChartVersion:
    platform = platform_of(request)
    platform.catalogs.require_visible(catalog_id, platform.user.claims)
    return platform.catalogs.chart_version(catalog_id, chart_name, version or None)


def _name_problems(name: str) -> list[str]:
    if len(name) > 200 or any(ord(c) < 32 for c in name):
        return ["1 to 200 characters, without control characters"]
    return []


def _render_launcher(
    request: Request,
    catalog_id: str,
    state: LauncherState,
    *,
    friendly_name: str,
    session: LauncherSession,
    show_errors: bool,
    launch_error: str | None = None,
    name_errors: Sequence[str] = (),
    status_code: int = 200,
) -> Response:
    platform = platform_of(request)
    chart = state.chart
    versions = platform.catalogs.versions(catalog_id, chart.name)
    default_version = platform.catalogs.catalog(catalog_id).default_version(chart.name).version
    shown_version = None if chart.version == default_version else chart.version
    changes = state.computed.changes() if state.computed is not None else []
    name = friendly_name if friendly_name and friendly_name != chart.name else None
    subdomain = session.subdomain
    commands = commands_clear = None
    if state.computed is not None:
        try:
            release = validate_release_name(f"{chart.name}-{subdomain}")
            commands = platform.catalogs.equivalent_commands(state.computed, release=release, friendly_name=name)
            commands_clear = platform.catalogs.equivalent_commands(
                state.computed, release=release, friendly_name=name, reveal=True
            )
        except SardonyxError as error:
            log.info("no equivalent commands for %s: %s", chart.ref, error.message)
    shareable = _shareable(state, changes)
    context: dict[str, Any] = {
        "active": "catalog",
        "catalog_id": catalog_id,
        "chart": chart,
        "state": state,
        "versions": versions,
        "default_version": default_version,
        "friendly_name": friendly_name or chart.name,
        "session": session,
        "show_errors": show_errors,
        "launch_error": launch_error,
        "name_errors": list(name_errors),
        "changes": changes,
        "commands": commands,
        "commands_clear": commands_clear,
        "share_url": launch_url(catalog_id, chart.name, shareable, friendly_name=name, version=shown_version),
        "autolaunch_url": launch_url(
            catalog_id, chart.name, shareable, friendly_name=name, version=shown_version, auto_launch=True
        ),
    }
    return page(request, "launcher.html", context, status_code=status_code)


async def _launch(
    request: Request, catalog_id: str, state: LauncherState, friendly_name: str, session: LauncherSession
) -> str:
    """Launch through the service layer, with the launcher session's context; returns the service id."""
    from sardonyx.services import LaunchRequest

    platform = platform_of(request)
    if state.computed is None:  # pragma: no cover - callers launch valid states only
        raise BadRequest("the values are not valid")
    overrides = {format_path(path): value for path, value in state.computed.changes()}
    launch = LaunchRequest(
        chart=state.chart.name,
        catalog_id=catalog_id,
        version=state.chart.version,
        friendly_name=friendly_name or state.chart.name,
        overrides=overrides,
        one_time_password=session.one_time_password,
        random_subdomain=session.subdomain,
    )
    view = await platform.manager.launch(platform.user, launch)
    return view.id


@router.get("/launcher/{catalog_id}/{chart_name}")
async def launcher_page(request: Request, catalog_id: str, chart_name: str) -> Response:
    extra_violations: list[Violation] = []
    try:
        parameters = parse_launch_url(request.query_params.multi_items())
        url_overrides: list[Override] = list(parameters.overrides)
    except BadRequest as error:
        extra_violations = [Violation(v.path, f"launch URL: {v.reason}") for v in error.violations]
        parameters = parse_launch_url([(k, v) for k, v in request.query_params.multi_items() if k in _OWN])
        url_overrides = []
    chart = _chart(request, catalog_id, chart_name, parameters.version)
    session = LauncherSession.of()
    context = _context(request, session)
    platform = platform_of(request)
    state = launcher_state(
        platform.catalogs,
        chart,
        context,
        extra_overrides=url_overrides,
        extra_violations=extra_violations,
        roles=platform.user.roles,
    )
    friendly_name = (parameters.friendly_name or chart.name).strip()
    return await _launch_or_render(
        request,
        catalog_id,
        state,
        friendly_name,
        session,
        # Onyxia's autoLaunch: the one GET that acts. The request guard lets GETs through; the hook to restrict it
        # (issue 19) is sardonyx.auth.navigation_is_same_origin(request.headers).
        launch=parameters.auto_launch,
        show_errors=bool(state.violations),
    )


async def _launch_or_render(
    request: Request,
    catalog_id: str,
    state: LauncherState,
    friendly_name: str,
    session: LauncherSession,
    *,
    launch: bool,
    show_errors: bool,
) -> Response:
    """Launch when asked and the values and name are valid (then redirect to My services), else render the form
    with the violations, the name's problems and the launch error."""
    name_errors = _name_problems(friendly_name)
    launch_error = None
    if launch and state.valid and not name_errors:
        try:
            service_id = await _launch(request, catalog_id, state, friendly_name, session)
        except SardonyxError as error:
            launch_error = _describe(error)
        else:
            return RedirectResponse(f"/my-services?launched={service_id}", status_code=303)
    return _render_launcher(
        request,
        catalog_id,
        state,
        friendly_name=friendly_name,
        session=session,
        show_errors=show_errors,
        launch_error=launch_error,
        name_errors=name_errors,
    )


_OWN = frozenset({"name", "version", "s3", "autoLaunch", "shared"})


def _describe(error: SardonyxError) -> str:
    if not error.violations:
        return error.message
    details = "; ".join(f"{v.path}: {v.reason}" if v.path else v.reason for v in error.violations)
    return f"{error.message} ({details})"


@router.post("/launcher/{catalog_id}/{chart_name}")
async def launcher_submit(request: Request, catalog_id: str, chart_name: str) -> Response:
    form = await request.form()
    data = {key: value for key, value in form.multi_items() if isinstance(value, str)}
    action = data.pop("action", "preview")
    chart = _chart(request, catalog_id, chart_name, data.get("version"))
    session = LauncherSession.of(data)
    context = _context(request, session)
    platform = platform_of(request)
    friendly_name = data.get("name", "").strip() or chart.name
    if action == "restore":
        submitted: dict[str, str] | None = None
    else:
        submitted = apply_action(data, action)
    state = launcher_state(platform.catalogs, chart, context, submitted=submitted, roles=platform.user.roles)
    launch = action == "launch"
    return await _launch_or_render(
        request, catalog_id, state, friendly_name, session, launch=launch, show_errors=launch
    )


__all__ = ["BUILTIN_CATALOG_ID", "router"]
