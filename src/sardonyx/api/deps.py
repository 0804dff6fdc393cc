"""Request dependencies: the platform the app serves, and the user behind the request (the single local user
until OIDC is configured)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from sardonyx.errors import UnavailableError
from sardonyx.identity import User
from sardonyx.platform import Platform


def get_platform(request: Request) -> Platform:
    platform: Platform | None = getattr(request.app.state, "platform", None)
    if platform is None:
        raise UnavailableError("the platform is starting")
    return platform


def get_user(request: Request) -> User:
    return get_platform(request).user


PlatformDep = Annotated[Platform, Depends(get_platform)]
UserDep = Annotated[User, Depends(get_user)]
