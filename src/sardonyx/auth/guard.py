"""The request guard: an ASGI middleware that runs before any route, checking where a request comes from.

1. **Host allowlist** (against DNS rebinding): the ``Host`` header must name this platform: ``127.0.0.1``,
   ``localhost`` or ``[::1]`` with the platform's port (the configured one, or the one the server actually
   listens on), the bind address when it is a specific one, or one of the ``public_hosts`` settings. Anything
   else is answered ``421 Misdirected Request`` (problem details) and reaches no route: a page whose domain
   re-resolves to 127.0.0.1 gets nothing. jupyter_server (``allow_remote_access``/``local_hostnames``) and
   MLflow (``--allowed-hosts``) do the same.
2. **Same origin for every state change** (against CSRF): a request with an unsafe method (``POST``, ``PUT``,
   ``PATCH``, ``DELETE``) is refused with ``403`` when the browser says it comes from elsewhere
   (``Sec-Fetch-Site`` other than ``same-origin``/``none``, or an ``Origin`` other than the ``Host``, or
   ``Origin: null``); and one that would be authenticated by the session cookie (no ``Authorization`` header)
   must prove it is same-origin (a matching ``Origin`` or ``Sec-Fetch-Site: same-origin``). CORS-"simple"
   requests, which browsers send cross-site without a preflight, can carry neither an ``Authorization`` header
   nor a same-origin proof, so none passes. Note that ``127.0.0.1:<another port>`` is the *same site* as the
   platform (cookies, ``SameSite=Strict`` included, are sent to it): only the origin check tells them apart.
   Websocket handshakes are checked the same way, whatever their method.

No ``GET`` changes state. A ``GET`` that would act (the launcher's Onyxia ``autoLaunch=true`` links) must ask
``navigation_is_same_origin`` first, and otherwise only show what it would do.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
PROBLEM_JSON = "application/problem+json"


class HostAllowlist:
    """The ``Host`` values a platform answers to.

    Args:
        port: the platform's configured port.
        bind_host: the address it binds to (added when it is a specific address, not ``0.0.0.0``/``::``).
        public_hosts: more names, ``name`` (with the platform's port, or none: a proxy on 80/443) or
            ``name:port`` (exactly).
    """

    def __init__(self, port: int, *, bind_host: str = "127.0.0.1", public_hosts: Iterable[str] = ()) -> None:
        self.port = port
        self.names = {name.lower() for name in LOOPBACK_NAMES}
        bind = bind_host.strip().lower()
        if bind and bind not in {"0.0.0.0", "::", "[::]"}:  # noqa: S104 - compared, never bound here
            self.names.add(f"[{bind}]" if ":" in bind and not bind.startswith("[") else bind)
        self.exact: set[str] = set()
        self.bare: set[str] = set()
        for entry in public_hosts:
            host = entry.strip().lower()
            if not host:
                continue
            if _split_port(host)[1] is not None:
                self.exact.add(host)
            else:
                self.bare.add(host)

    def allows(self, host: str, server_port: int | None = None) -> bool:
        """True when ``host`` (a ``Host`` header value) names this platform."""
        value = host.strip().lower()
        if not value or value in self.exact:
            return bool(value)
        name, port = _split_port(value)
        ports = {self.port} | ({server_port} if server_port else set())
        if name in self.names:
            return port in ports or (port is None and 80 in ports)
        if name in self.bare:
            return port is None or port in ports
        return False


def _split_port(host: str) -> tuple[str, int | None]:
    """``("name", port)`` of ``name[:port]`` or ``[v6][:port]``; port None when absent or not a number."""
    if host.startswith("["):
        end = host.find("]")
        name, rest = host[: end + 1], host[end + 1 :]
        port_text = rest[1:] if rest.startswith(":") else ""
    elif host.count(":") == 1:
        name, port_text = host.split(":")
    else:
        name, port_text = host, ""
    return name, int(port_text) if port_text.isdigit() else None


def fetch_site(headers: Headers) -> str | None:
    """The browser's ``Sec-Fetch-Site`` (``same-origin``, ``same-site``, ``cross-site``, ``none``), None when
    absent (not a browser, or an old one)."""
    value = headers.get("sec-fetch-site")
    return value.strip().lower() if value else None


def cross_origin(headers: Headers) -> bool:
    """True when the browser says this request comes from another origin (see the module docstring)."""
    site = fetch_site(headers)
    if site is not None and site not in {"same-origin", "none"}:
        return True
    origin = headers.get("origin")
    if origin is None:
        return False
    if origin.strip() == "null":
        return True
    return urlsplit(origin.strip()).netloc.lower() != headers.get("host", "").strip().lower()


def proves_same_origin(headers: Headers) -> bool:
    """True when the browser says positively that the request comes from the platform's own pages."""
    if cross_origin(headers):
        return False
    return fetch_site(headers) == "same-origin" or bool(headers.get("origin"))


def navigation_is_same_origin(headers: Headers) -> bool:
    """For a ``GET`` that would act: True only when it comes from the platform's own pages, or was typed or
    bookmarked by the user (``Sec-Fetch-Site: same-origin`` or ``none``); a link or an ``<img>`` on another
    site says ``cross-site``/``same-site``, and a client that sends no fetch metadata proves nothing."""
    return fetch_site(headers) in {"same-origin", "none"} and not cross_origin(headers)


def problem_body(status: int, reason: str, title: str, detail: str, instance: str) -> bytes:
    """An RFC 7807 document (the shape of ``SardonyxError.to_problem``)."""
    problem = {"type": f"https://sardonyx.dev/problems/{reason}", "title": title, "status": status,
               "detail": detail, "instance": instance}  # fmt: skip
    return json.dumps(problem).encode()


class RequestGuard:
    """The ASGI middleware of the module docstring; wraps the whole application (``app.add_middleware``)."""

    def __init__(self, app: ASGIApp, *, hosts: HostAllowlist, cookie_name: str) -> None:
        self.app = app
        self.hosts = hosts
        self.cookie_name = cookie_name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        server = scope.get("server")
        server_port = int(server[1]) if server and server[1] else None
        path = str(scope.get("path", ""))
        host = headers.get("host", "")
        if not self.hosts.allows(host, server_port):
            shown = host if len(host) <= 100 else host[:100] + "..."
            detail = (f"this platform does not answer to the host {shown!r}; use http://127.0.0.1:{self.hosts.port} "
                      "(or add the name to the public_hosts setting)")  # fmt: skip
            await self._refuse(scope, send, 421, reason="misdirected-request", title="Misdirected request",
                               detail=detail, path=path)  # fmt: skip
            return
        method = str(scope.get("method", "GET")).upper()
        if scope["type"] == "websocket" or method not in SAFE_METHODS:
            refused = cross_origin(headers) or (
                "authorization" not in headers and self._has_session(headers) and not proves_same_origin(headers)
            )
            if refused:
                await self._refuse(scope, send, 403, reason="cross-origin", title="Cross-origin request refused",
                                   detail="this request was sent from another site (or does not say it comes from this "
                                   "platform's pages); it was refused", path=path)  # fmt: skip
                return
        await self.app(scope, receive, send)

    def _has_session(self, headers: Headers) -> bool:
        return f"{self.cookie_name}=" in headers.get("cookie", "")

    async def _refuse(self, scope: Scope, send: Send, status: int, *, reason: str, title: str, detail: str,
                      path: str) -> None:  # fmt: skip
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        body = problem_body(status, reason, title, detail, path)
        response_headers: list[tuple[bytes, bytes]] = [
            (b"content-type", PROBLEM_JSON.encode()),
            (b"content-length", str(len(body)).encode()),
        ]
        start: dict[str, Any] = {"type": "http.response.start", "status": status, "headers": response_headers}
        await send(start)
        await send({"type": "http.response.body", "body": body})
