"""Logging the web UI in: ``/login`` turns a one-time login link into a session cookie; ``/logout`` ends it.

``GET /login?code=...`` only shows a page whose form posts the code back (submitted at once by the page's
script, or by its button): a ``GET`` changes nothing, so a link previewer or prefetcher cannot use the code up.
``POST /login`` redeems the code (once) and answers ``303`` to ``next`` with the session cookie (``HttpOnly``,
``SameSite=Strict``; see ``sardonyx.auth.local``). A browser without a session gets the login page (401), which
says how to get a link.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from sardonyx.errors import Unauthorized
from sardonyx.web.render import page
from sardonyx.web.routing import WebRoute, platform_of

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def safe_next(target: str | None) -> str:
    """``target`` when it is a path of this platform (``/my-services``), else ``/``: never another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def login_page(request: Request, message: str, *, code: str = "", next_path: str = "/", status: int = 401) -> Response:
    """The login page: the form posting ``code`` when there is one, else how to get a login link."""
    hint = platform_of(request).authenticator.login_hint()
    return page(request, "login.html", {"title": "Log in", "message": message, "code": code, "next": next_path,
                                        "hint": hint}, status_code=status)  # fmt: skip


@router.get("/login")
async def login_form(request: Request, code: str = "", next: str = "/") -> Response:
    if not code:
        return login_page(request, "You are not logged in.", next_path=safe_next(next))
    return login_page(request, "Logging you in...", code=code, next_path=safe_next(next), status=200)


@router.post("/login")
async def login(request: Request, code: Annotated[str, Form()], next: Annotated[str, Form()] = "/") -> Response:
    authenticator = platform_of(request).authenticator
    user = authenticator.redeem_login_code(code)
    if user is None:
        raise Unauthorized("this login link was used already or has expired")
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        authenticator.cookie_name,
        authenticator.session_cookie(user),
        max_age=authenticator.session_max_age,
        httponly=True,
        samesite="strict",
        path="/",
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    authenticator = platform_of(request).authenticator
    response = login_page(request, "You are logged out.", status=200)
    response.delete_cookie(authenticator.cookie_name, path="/", httponly=True, samesite="strict")
    return response
