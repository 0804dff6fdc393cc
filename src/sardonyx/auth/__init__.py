"""Authentication and request origin checks: who is behind a request, and whether it may act.

- ``RequestGuard`` (``guard``): ASGI middleware before every route: Host allowlist (421), same-origin state
  changes (403).
- ``Authenticator`` (``base``): credentials -> ``User``; ``LocalAuthenticator`` (``local``) in local mode.
- ``current_user``: the one FastAPI dependency yielding the ``User``; ``create_app`` installs it on every route
  (default deny), and it lets through only the open paths (``/public/*`` as in Onyxia, the login page, static
  files, the API docs, file share links which carry their own signature). Without valid credentials it raises
  ``Unauthorized``: a 401 problem with ``WWW-Authenticate: Bearer`` from the API, the login page from the web UI.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sardonyx.auth.base import Authenticator
from sardonyx.auth.guard import HostAllowlist, RequestGuard, navigation_is_same_origin
from sardonyx.auth.local import LocalAuthenticator, api_token_path, auth_headers, ensure_api_token, read_api_token
from sardonyx.errors import Unauthorized, UnavailableError
from sardonyx.identity import User

OPEN_PREFIXES = ("/public/", "/static/", "/share/")
OPEN_PATHS = frozenset({"/login", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json", "/favicon.ico"})

_bearer = HTTPBearer(auto_error=False, description="The platform's API token (`<data_dir>/api-token`).")


def is_open_path(path: str) -> bool:
    """True for the paths any client may call without credentials."""
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def authenticator_of(request: Request) -> Authenticator:
    authenticator: Authenticator | None = getattr(request.app.state, "authenticator", None)
    if authenticator is None:
        raise UnavailableError("the platform is starting")
    return authenticator


async def current_user(
    request: Request, _bearer_credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None
) -> User:
    """The user behind the request (cached per request in ``request.state.user``).

    Raises:
        Unauthorized: no valid credentials (the message says how to get them).
    """
    cached: User | None = getattr(request.state, "user", None)
    if cached is not None:
        return cached
    authenticator = authenticator_of(request)
    user = await authenticator.authenticate(request)
    if user is None:
        raise Unauthorized(
            "authentication required: send the platform's API token as `Authorization: Bearer <token>` (the CLI "
            f"and PlatformClient read it from the data directory), or {authenticator.login_hint()}",
            challenge=authenticator.challenge(),
        )
    request.state.user = user
    return user


async def require_user_unless_open(request: Request) -> None:
    """The app-wide dependency: every route needs a user, except the open paths (``is_open_path``)."""
    if is_open_path(request.url.path):
        return
    bearer = None
    await current_user(request, bearer)


def request_user(request: Request) -> User:
    """The user ``require_user_unless_open`` authenticated (for code outside dependency injection, the web UI).

    Raises:
        Unauthorized: the route is open and nobody authenticated.
    """
    user: User | None = getattr(request.state, "user", None)
    if user is None:
        raise Unauthorized("authentication required")
    return user


UserDep = Annotated[User, Depends(current_user)]

__all__ = [
    "Authenticator",
    "HostAllowlist",
    "LocalAuthenticator",
    "RequestGuard",
    "UserDep",
    "api_token_path",
    "auth_headers",
    "current_user",
    "ensure_api_token",
    "is_open_path",
    "navigation_is_same_origin",
    "read_api_token",
    "request_user",
]
