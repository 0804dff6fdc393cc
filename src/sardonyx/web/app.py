"""Assembling the web UI: its routers, the static files, and HTML answers for unknown pages."""

from __future__ import annotations

import inspect
import logging
import mimetypes

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from sardonyx.errors import NotFound, SardonyxError
from sardonyx.web import account_pages, catalog_pages, files_pages, login_pages, services_pages
from sardonyx.web.assets import VENDOR_FILES, asset_path, default_assets_dir, ensure_assets
from sardonyx.web.render import STATIC_DIR
from sardonyx.web.routing import WebRoute, error_page

log = logging.getLogger(__name__)

router = APIRouter(route_class=WebRoute, include_in_schema=False)
router.include_router(catalog_pages.router)
router.include_router(services_pages.router)
router.include_router(files_pages.router)
router.include_router(account_pages.router)
router.include_router(login_pages.router)

_OWN_STATIC = {p.name for p in STATIC_DIR.iterdir() if p.is_file()}


@router.get("/static/vendor/{name}")
async def vendor_file(name: str) -> Response:
    """A front-end asset from the npm cache, downloaded on first use when the setup did not fetch it."""
    if name not in VENDOR_FILES:
        raise NotFound(f"no asset {name!r}")
    path = asset_path(default_assets_dir(), name)
    if not path.is_file():
        from starlette.concurrency import run_in_threadpool

        await run_in_threadpool(ensure_assets)
    return FileResponse(
        path, media_type="text/javascript", headers={"Cache-Control": "public, max-age=31536000, immutable"}
    )


@router.get("/static/{name}")
async def static_file(name: str) -> Response:
    """Our own CSS, JS and icons (cache-busted by a ``?v=`` token in the pages)."""
    if name not in _OWN_STATIC:
        raise NotFound(f"no static file {name!r}")
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if name.endswith(".js"):
        media_type = "text/javascript"
    return FileResponse(STATIC_DIR / name, media_type=media_type, headers={"Cache-Control": "public, max-age=3600"})


_API_PREFIXES = ("/public", "/my-lab", "/user", "/services", "/platform", "/docs", "/openapi", "/redoc")


def install(app: FastAPI) -> None:
    """Serve the web UI from ``app``: its routes, and an HTML "page not found" for browsers (requests that
    accept ``text/html`` outside the REST API's paths); every other 404 keeps the API's problem details."""
    app.include_router(router)
    previous = app.exception_handlers.get(StarletteHTTPException)

    async def not_found(request: Request, error: Exception) -> Response:
        if (
            isinstance(error, StarletteHTTPException)
            and error.status_code == 404
            and "text/html" in request.headers.get("accept", "")
            and not request.url.path.startswith(_API_PREFIXES)
        ):
            return error_page(request, NotFound(f"there is no page at {request.url.path}"))
        if previous is not None:
            answer = previous(request, error)
            return await answer if inspect.isawaitable(answer) else answer
        raise error

    app.add_exception_handler(StarletteHTTPException, not_found)


__all__ = ["SardonyxError", "install", "router"]
