"""The authenticator interface: what turns a request's credentials into the ``User`` behind it.

One implementation per mode, chosen by the ``auth.mode`` setting: ``token`` (``LocalAuthenticator``: the single
local user, an API token, login links and session cookies). An OIDC mode plugs in as a second implementation:
``authenticate`` validates a bearer JWT (the provider's JWKS, audience, expiry) or reads the session its login
callback set (the cookie helpers of ``LocalAuthenticator`` are reusable), and maps the claims to a ``User``
(groups become group projects); ``login_hint`` then points to its login route. Nothing else changes: routes only
ever see the ``User`` yielded by the one dependency ``sardonyx.auth.current_user``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from starlette.requests import HTTPConnection

from sardonyx.identity import User


class Authenticator(ABC):
    """Authenticates requests (see the module docstring).

    Attributes:
        mode: the ``auth.mode`` setting it implements.
        cookie_name: the session cookie it reads (the request guard checks the origin of requests carrying it).
    """

    mode: ClassVar[str]
    cookie_name: str

    @abstractmethod
    async def authenticate(self, connection: HTTPConnection) -> User | None:
        """The user whose valid credentials the request carries (``Authorization: Bearer`` or the session
        cookie), None when it carries none or invalid ones (the caller answers 401)."""

    def challenge(self) -> str:
        """The ``WWW-Authenticate`` header of a 401 answer (RFC 6750)."""
        return 'Bearer realm="sardonyx"'

    @abstractmethod
    def login_hint(self) -> str:
        """How a person gets a session, as the end of a sentence ("open the login link that ... prints")."""

    def login_redirect(self, connection: HTTPConnection, next_path: str) -> str | None:
        """Where to send a browser without a session that asked for ``next_path``: an OIDC mode answers its
        authorization URL (code flow with PKCE, ``next_path`` kept in its state); None (local mode) shows the
        login page with ``login_hint``."""
        del connection, next_path
        return None
