"""Account: the project's S3 credentials with snippets, the Git identity used for launches, interface settings.

- ``GET /account/storage``: endpoint, bucket, region and keys of the project's S3 credentials, and ready-to-paste
  snippets (``snippets.py``).
- ``GET/POST /account/git``: name, e-mail, personal access token and credential cache duration, saved in the
  state store and injected into every launch (``git.*`` of the launch context, ``sardonyx.identity.git``).
- ``GET/POST /account/interface``: the theme (follow the system, light, dark), kept in a cookie.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from sardonyx.errors import BadRequest, NotFound, Violation
from sardonyx.identity.git import GitIdentity
from sardonyx.web.files_pages import project_credentials
from sardonyx.web.render import THEMES, page
from sardonyx.web.routing import WebRoute, platform_of
from sardonyx.web.snippets import snippets

router = APIRouter(route_class=WebRoute, include_in_schema=False)

TABS = (("storage", "Storage (S3)"), ("git", "Git"), ("interface", "Interface"))


def _base(tab: str) -> dict[str, Any]:
    return {"active": "account", "tabs": TABS, "tab": tab}


@router.get("/account")
async def account_index() -> Response:
    return RedirectResponse("/account/storage", status_code=303)


@router.get("/account/{tab}")
async def account_tab(request: Request, tab: str, saved: str = "") -> Response:
    platform = platform_of(request)
    user = platform.user
    context = _base(tab) | {"user": user, "saved": saved == "1"}
    if tab == "storage":
        credentials = await project_credentials(request)
        secrets = [value for value in (credentials.secret_access_key, credentials.session_token) if value]
        context |= {"credentials": credentials, "snippets": snippets(credentials), "secrets": secrets}
    elif tab == "git":
        context |= {"git": GitIdentity.load(platform.store, user.idep), "errors": {}}
    elif tab == "interface":
        context |= {"themes": THEMES}
    else:
        raise NotFound(f"there is no account page {tab!r} (pages: {', '.join(t for t, _ in TABS)})")
    return page(request, f"account_{tab}.html", context)


@router.post("/account/git")
async def save_git(request: Request) -> Response:
    platform = platform_of(request)
    form = await request.form()
    data = {key: value for key, value in form.items() if isinstance(value, str)}
    duration = data.get("credentials_cache_duration", "").strip() or "0"
    data["credentials_cache_duration"] = duration
    try:
        identity = GitIdentity.parse(data)
    except BadRequest as error:
        errors: dict[str, list[str]] = {}
        for violation in error.violations:
            errors.setdefault(violation.path, []).append(violation.reason)
        shown = GitIdentity.model_construct(
            name=data.get("name", ""),
            email=data.get("email", ""),
            token=data.get("token", ""),
            credentials_cache_duration=duration,
        )
        context = _base("git") | {"user": platform.user, "saved": False, "git": shown, "errors": errors}
        return page(request, "account_git.html", context)  # 200: a form shown again with its errors
    identity.save(platform.store, platform.user.idep)
    return RedirectResponse("/account/git?saved=1", status_code=303)


@router.post("/account/interface")
async def save_interface(request: Request) -> Response:
    form = await request.form()
    theme = form.get("theme")
    if theme not in THEMES:
        raise BadRequest("unknown theme", violations=[Violation("theme", f"one of {', '.join(THEMES)}")])
    response = RedirectResponse("/account/interface?saved=1", status_code=303)
    response.set_cookie("sardonyx_theme", str(theme), max_age=5 * 365 * 86400, samesite="lax", httponly=True)
    return response
