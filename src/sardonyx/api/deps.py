"""Request dependencies: the platform the app serves, and the user behind the request (``sardonyx.auth``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from sardonyx.auth import current_user
from sardonyx.errors import UnavailableError
from sardonyx.identity import User
from sardonyx.platform import Platform


def get_platform(request: Request) -> Platform:
    platform: Platform | None = getattr(request.app.state, "platform", None)
    if platform is None:
        raise UnavailableError("the platform is starting")
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]
UserDep = Annotated[User, Depends(current_user)]
"""The user behind the request: ``sardonyx.auth.current_user`` (401 without valid credentials)."""
