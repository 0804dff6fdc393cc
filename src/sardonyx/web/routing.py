"""The web UI's routes answer with HTML, errors included, and refuse cross-site form posts.

``WebRoute`` wraps every endpoint of the web router: an expected error (``SardonyxError``) becomes an error
page with its message and every violation (status kept: 404 for an unknown chart or service, 400 for bad
input...); a request validation error becomes a 400 page. Unsafe methods (POST, PUT, DELETE) from another
site are refused (403): the platform listens on loopback without login, so a page on another site must not
be able to launch or delete services through the user's browser (``Sec-Fetch-Site`` / ``Origin`` checks).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from sardonyx.errors import BadRequest, Forbidden, SardonyxError, Violation
from sardonyx.web.render import page

if TYPE_CHECKING:
    from sardonyx.identity import User
    from sardonyx.platform import Platform

log = logging.getLogger("sardonyx.web")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def same_origin(request: Request) -> bool:
    """True unless the browser says the request comes from another site (``Sec-Fetch-Site: cross-site`` or
    an ``Origin`` whose host differs from ``Host``). Requests without these headers (scripts, tests) pass."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin and origin != "null":
        host = request.headers.get("host", "")
        return urlsplit(origin).netloc == host
    return origin != "null"


def error_page(request: Request, error: SardonyxError) -> Response:
    """The page shown for an expected error: title, message, violations, and a way back (for a 401, the login
    page, which says how to log in)."""
    from sardonyx.errors import Unauthorized

    if isinstance(error, Unauthorized):
        from fastapi.responses import RedirectResponse

        from sardonyx.web.login_pages import login_page

        target = request.url.path if request.method == "GET" else "/"
        redirect = platform_of(request).authenticator.login_redirect(request, target)
        if redirect is not None:
            return RedirectResponse(redirect, status_code=303)

        message = "You are not logged in." if "required" in error.message else f"{error.message.capitalize()}."
        return login_page(request, message, next_path=request.url.path if request.method == "GET" else "/")
    if error.status >= 500:
        log.error("%s %s: %s", request.method, request.url.path, error.message)
    else:
        log.info("%s %s: %s (%s)", request.method, request.url.path, error.message, error.reason)
    return page(
        request,
        "error.html",
        {"error": error, "status": error.status, "title": error.title},
        status_code=error.status,
    )


class WebRoute(APIRoute):
    """An ``APIRoute`` whose errors are HTML pages (see the module docstring)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            if request.method not in SAFE_METHODS and not same_origin(request):
                return error_page(request, Forbidden("this form was sent from another site; it was refused"))
            try:
                return await original(request)
            except SardonyxError as error:
                return error_page(request, error)
            except RequestValidationError as error:
                violations = [
                    Violation(".".join(str(p) for p in problem.get("loc", ()) if p not in ("query", "path", "body")),
                              str(problem.get("msg", "invalid")))
                    for problem in error.errors()
                ]  # fmt: skip
                return error_page(request, BadRequest("the request is not valid", violations=violations))

        return handler


def platform_of(request: Request) -> Platform:
    """The platform the app serves (set by ``sardonyx.api.create_app``)."""
    from sardonyx.errors import UnavailableError

    platform: Platform | None = getattr(request.app.state, "platform", None)
    if platform is None:
        raise UnavailableError("the platform is starting; reload the page in a moment")
    return platform


def user_of(request: Request) -> User:
    """The user behind the request, authenticated by ``sardonyx.auth`` before the route ran."""
    from sardonyx.auth import request_user

    return request_user(request)
