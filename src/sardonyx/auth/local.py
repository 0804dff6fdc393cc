"""Local mode: one user, one API token in the data directory, one-time login links, signed session cookies.

- **API token**: ``<data_dir>/api-token`` (mode 0600, created at the platform's first start, 256 random bits,
  URL-safe); the CLI and ``PlatformClient`` read it there (or from ``SARDONYX_TOKEN``) and send it as
  ``Authorization: Bearer <token>``. Deleting the file and restarting the platform rotates it (and ends every
  web session).
- **Login links**: ``sardonyx up`` and ``sardonyx open`` ask the platform (with the token) for a one-time code
  and print ``<url>/login?code=<code>``, as JupyterLab prints its token URL; the code is valid once, for
  ``auth.login_link_seconds``, and is never the token itself (a URL lands in the browser's history). Opening the
  link shows a page that posts the code back (a ``GET`` changes nothing: link previewers cannot use it up);
  the ``POST`` answers with the session cookie.
- **Session cookie**: ``sardonyx-session-<port>`` (cookies ignore ports: two platforms on one machine must not
  overwrite each other's), ``HttpOnly``, ``SameSite=Strict``, ``Path=/``, ``Max-Age`` of
  ``auth.session_max_age_seconds``. Its value is ``v1.<login>.<expiry>.<nonce>.<HMAC-SHA256>``, signed with a
  key derived from the API token: nothing is stored, sessions survive a platform restart.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Final

from starlette.requests import HTTPConnection

from sardonyx.auth.base import Authenticator
from sardonyx.identity import User

API_TOKEN_FILE: Final = "api-token"  # noqa: S105 - a file name
SESSION_VERSION: Final = "v1"


def api_token_path(data_dir: Path) -> Path:
    """``<data_dir>/api-token``."""
    return data_dir / API_TOKEN_FILE


def read_api_token(data_dir: Path) -> str | None:
    """The platform's API token from its data directory, None when there is none (not started yet)."""
    try:
        token = api_token_path(data_dir).read_text().strip()
    except OSError:
        return None
    return token or None


def ensure_api_token(data_dir: Path) -> str:
    """The API token of ``data_dir``, created (mode 0600) when missing; an existing file is made 0600."""
    path = api_token_path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    existing = read_api_token(data_dir)
    if existing is not None:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
        return existing
    token = secrets.token_urlsafe(32)
    temporary = path.with_name(f".{API_TOKEN_FILE}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(token + "\n")
    try:
        os.link(temporary, path)  # never replaces a token another process wrote meanwhile
    except FileExistsError:
        pass
    finally:
        temporary.unlink(missing_ok=True)
    return read_api_token(data_dir) or token


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class LocalAuthenticator(Authenticator):
    """The single local user, authenticated by the API token (bearer) or a session cookie.

    Args:
        user: the local user.
        token: the API token.
        port: the platform's port (names the cookie).
        session_max_age: lifetime of a session cookie, in seconds.
        login_link_seconds: how long a login code stays valid, in seconds.
    """

    mode = "token"

    def __init__(
        self, user: User, token: str, *, port: int, session_max_age: int = 14 * 86400, login_link_seconds: float = 600
    ) -> None:
        self.user = user
        self._token = token
        self.cookie_name = f"sardonyx-session-{port}"
        self.session_max_age = session_max_age
        self.login_link_seconds = login_link_seconds
        self._key = hmac.new(token.encode(), b"sardonyx session cookies v1", hashlib.sha256).digest()
        self._codes: dict[str, float] = {}
        self._lock = threading.Lock()

    # -- credentials -------------------------------------------------------------------------------------
    async def authenticate(self, connection: HTTPConnection) -> User | None:
        header = connection.headers.get("authorization", "")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return self.user if hmac.compare_digest(credentials.strip(), self._token) else None
        cookie = connection.cookies.get(self.cookie_name)
        if cookie and self.session_login(cookie) == self.user.idep:
            return self.user
        return None

    def login_hint(self) -> str:
        return "open the login link that sardonyx up or sardonyx open prints"

    # -- login links -------------------------------------------------------------------------------------
    def new_login_code(self) -> str:
        """A one-time login code, valid ``login_link_seconds``."""
        code = secrets.token_urlsafe(24)
        now = time.monotonic()
        with self._lock:
            self._codes = {c: expiry for c, expiry in self._codes.items() if expiry > now}
            self._codes[code] = now + self.login_link_seconds
        return code

    def redeem_login_code(self, code: str) -> User | None:
        """The user a login code logs in, None when it is unknown, used or expired (it is used up either way)."""
        with self._lock:
            expiry = self._codes.pop(code, None)
        return self.user if expiry is not None and expiry > time.monotonic() else None

    # -- sessions ----------------------------------------------------------------------------------------
    def session_cookie(self, user: User, *, now: float | None = None) -> str:
        """The signed value of a new session cookie for ``user``."""
        expiry = int((time.time() if now is None else now) + self.session_max_age)
        payload = f"{SESSION_VERSION}.{user.idep}.{expiry}.{secrets.token_hex(8)}"
        return f"{payload}.{self._sign(payload)}"

    def session_login(self, cookie: str, *, now: float | None = None) -> str | None:
        """The login of a valid, unexpired session cookie, else None."""
        payload, _, signature = cookie.rpartition(".")
        parts = payload.split(".")
        if len(parts) != 4 or parts[0] != SESSION_VERSION or not parts[2].isdigit():
            return None
        if not hmac.compare_digest(signature, self._sign(payload)):
            return None
        if int(parts[2]) < (time.time() if now is None else now):
            return None
        return parts[1]

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())


def auth_headers(data_dir: Path) -> dict[str, str]:
    """``{"Authorization": "Bearer <token>"}`` with the API token of ``data_dir`` (empty when there is none):
    for scripts, benchmarks and tests that call the REST API with their own HTTP client."""
    token = read_api_token(data_dir)
    return {"Authorization": f"Bearer {token}"} if token else {}
