"""A small client of the platform's REST API (httpx): what the CLI uses, and what other programs (codif's
hyper-parameter search) can use to launch services and wait for them.

Errors come back as the platform's own exceptions: an RFC 7807 problem becomes the ``SardonyxError`` subclass of
its ``reason`` (with its violations); a platform that does not answer raises ``UnavailableError`` saying to run
``sardonyx up``. Every call has an equivalent ``curl`` command (``curl_command``), printed by ``--show-command``.
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import httpx

from sardonyx.errors import SardonyxError, UnavailableError, Violation
from sardonyx.settings import Settings

FINAL_STATUSES = frozenset({"running", "succeeded", "failed", "suspended", "stopped"})
"""Statuses a launch settles in (``wait`` stops there by default)."""


def _error_classes() -> dict[str, type[SardonyxError]]:
    classes: dict[str, type[SardonyxError]] = {}
    pending: list[type[SardonyxError]] = [SardonyxError]
    while pending:
        cls = pending.pop()
        classes.setdefault(cls.reason, cls)
        pending.extend(cls.__subclasses__())
    return classes


def error_from_problem(problem: Mapping[str, Any], status: int) -> SardonyxError:
    """The exception a problem document describes (its class by ``type``'s reason, else a generic one)."""
    reason = str(problem.get("type", "")).rsplit("/", 1)[-1]
    message = str(problem.get("detail") or problem.get("title") or f"HTTP {status}")
    violations = [Violation(str(v.get("path", "")), str(v.get("reason", ""))) for v in problem.get("violations") or []]
    cls = _error_classes().get(reason)
    if cls is None or cls.status != status:
        cls = type("RemoteError", (SardonyxError,), {"status": status, "reason": reason or "error",
                                                      "title": str(problem.get("title", "Error"))})  # fmt: skip
    return cls(message, violations=violations)


def curl_command(
    method: str, url: str, body: Any = None, *, stream: bool = False, token_file: str | None = None
) -> str:
    """The ``curl`` command doing the same request (body as JSON); with ``token_file``, it sends the API token
    read from that file when it runs (``-H "Authorization: Bearer $(cat FILE)"``), never the token itself."""
    head = ["curl"]
    if stream:
        head.append("-N")
    if method != "GET":
        head += ["-X", method]
    rest: list[str] = []
    if body is not None:
        rest += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
    rest.append(url)
    parts = [shlex.join(head)]
    if token_file:
        quoted = "".join("\\" + c if c in '"$`\\' else c for c in token_file)
        parts.append(f'-H "Authorization: Bearer $(cat {quoted})"')
    parts.append(shlex.join(rest))
    return " ".join(parts)


def default_token_file() -> str:
    """Where the CLI reads the API token: ``<data_dir>/api-token`` of the settings."""
    from sardonyx.auth.local import api_token_path

    return str(api_token_path(Settings().data_dir))


class PlatformClient:
    """Calls the REST API of a running platform.

    Args:
        base_url: ``http://127.0.0.1:8420`` (default: the settings' ``api_url``).
        project: Onyxia's ``ONYXIA-PROJECT`` header (None: the personal project).
        timeout: seconds per request (streams have no read timeout).
        token: the API token (default: the ``token`` setting, ``SARDONYX_TOKEN``, else the file
            ``<data_dir>/api-token`` that the platform of these settings created).
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        project: str | None = None,
        timeout: float = 30.0,
        token: str | None = None,
    ) -> None:
        settings: Settings | None = None
        if base_url is None or token is None:
            settings = Settings()
        self.base_url = (base_url or (settings.api_url if settings else "")).rstrip("/")
        if token is None and settings is not None:
            from sardonyx.auth.local import api_token_path, read_api_token

            token = settings.token or read_api_token(settings.data_dir)
            self._token_hint = f"no API token in {api_token_path(settings.data_dir)} or SARDONYX_TOKEN"
        else:
            self._token_hint = "the API token given was refused"  # noqa: S105 - a message
        headers = {"ONYXIA-PROJECT": project} if project else {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, headers=headers)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PlatformClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        """Full URL of ``path`` (for ``curl_command``)."""
        return str(httpx.URL(self.base_url + path, params={k: v for k, v in (params or {}).items() if v is not None}))

    # -- plumbing --------------------------------------------------------------------------------------------
    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send a request; raise the problem it answers as an exception."""
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as error:
            raise UnavailableError(
                f"Sardonyx is not running at {self.base_url} (start it with `sardonyx up`): {error}"
            ) from error
        if response.status_code == 401 and "authorization" not in self._http.headers:
            from sardonyx.errors import Unauthorized

            raise Unauthorized(
                f"the platform at {self.base_url} wants its API token: {self._token_hint} (is it the platform of "
                "this data directory? set SARDONYX_DATA_DIR, or start it with `sardonyx up`)"
            )
        _raise_for_problem(response)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.request(method, path, **kwargs).json()

    # -- platform --------------------------------------------------------------------------------------------
    def login_link(self, next_path: str = "/") -> str:
        """``POST /auth/login-links``: a one-time URL that logs a browser into the web UI (then ``next_path``)."""
        params = {"next": next_path} if next_path != "/" else {}
        return str(self._json("POST", "/auth/login-links", params=params)["url"])

    def healthy(self) -> bool:
        """True when the platform answers its health check with 200."""
        try:
            return self._http.get("/public/healthcheck", timeout=2.0).status_code == 200
        except httpx.TransportError:
            return False

    def status(self) -> dict[str, Any]:
        """``GET /platform/status``."""
        result: dict[str, Any] = self._json("GET", "/platform/status")
        return result

    def environments(self) -> dict[str, Any]:
        """``GET /platform/environments``: the local runtime's environment cache."""
        result: dict[str, Any] = self._json("GET", "/platform/environments")
        return result

    def prune_environments(self, *, dry_run: bool = False) -> dict[str, Any]:
        """``POST /platform/environments/prune``: delete the environments no service uses."""
        params = {"dryRun": "true"} if dry_run else {}
        result: dict[str, Any] = self._json("POST", "/platform/environments/prune", params=params)
        return result

    # -- services --------------------------------------------------------------------------------------------
    def launch_body(
        self,
        chart: str,
        *,
        catalog_id: str | None = None,
        version: str | None = None,
        name: str | None = None,
        friendly_name: str | None = None,
        set_options: Sequence[str] = (),
        overrides: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
        dry_run: bool = False,
        reveal: bool = False,
    ) -> dict[str, Any]:
        """The ``PUT /my-lab/app`` body (Onyxia's ``CreateServiceDTO`` plus ``overrides``); ``reveal`` shows the
        secrets of a dry run's values and commands in clear."""
        body: dict[str, Any] = {"packageName": chart}
        for key, value in (("catalogId", catalog_id), ("packageVersion", version), ("name", name),
                           ("friendlyName", friendly_name)):  # fmt: skip
            if value is not None:
                body[key] = value
        if options:
            body["options"] = dict(options)
        if set_options and overrides:
            raise ValueError("give set_options or overrides, not both")
        if set_options:
            body["overrides"] = list(set_options)
        elif overrides:
            body["overrides"] = dict(overrides)
        if dry_run:
            body["dryRun"] = True
            if reveal:
                body["reveal"] = True
        return body

    def launch(self, chart: str, **options: Any) -> dict[str, Any]:
        """Launch (``PUT /my-lab/app``); keyword arguments as ``launch_body``. Returns the service (or, with
        ``dry_run=True``, the preview: values and commands)."""
        result: dict[str, Any] = self._json("PUT", "/my-lab/app", json=self.launch_body(chart, **options))
        return result

    def services(self) -> list[dict[str, Any]]:
        """``GET /my-lab/services`` -> the ``apps``."""
        apps: list[dict[str, Any]] = self._json("GET", "/my-lab/services")["apps"]
        return apps

    def service(self, service_id: str) -> dict[str, Any]:
        """``GET /my-lab/app?serviceId=``."""
        result: dict[str, Any] = self._json("GET", "/my-lab/app", params={"serviceId": service_id})
        return result

    def commands(self, service_id: str, *, reveal: bool = False) -> dict[str, Any]:
        """``GET /services/{id}/commands``: the equivalent helm commands of a launched service (secrets masked
        unless ``reveal``)."""
        params = {"reveal": "true"} if reveal else {}
        result: dict[str, Any] = self._json("GET", f"/services/{service_id}/commands", params=params)
        return result

    def resolve(self, reference: str) -> dict[str, Any]:
        """A service by id, else by friendly name (unique among the project's services).

        Raises:
            NotFound: no such service; BadRequest: several services have that friendly name.
        """
        from sardonyx.errors import BadRequest, NotFound

        apps = self.services()
        for app in apps:
            if app["id"] == reference:
                return app
        named = [app for app in apps if app.get("friendlyName") == reference]
        if len(named) == 1:
            return named[0]
        if named:
            ids = ", ".join(app["id"] for app in named)
            raise BadRequest(f"several services are named {reference!r} ({ids}): give the id")
        raise NotFound(f"no service {reference!r} (see `sardonyx services`)")

    def delete(self, service_id: str, *, wait: bool = True) -> None:
        self.request("DELETE", "/my-lab/app", params={"path": service_id, "wait": str(wait).lower()})

    def suspend(self, service_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json("POST", "/my-lab/app/suspend", json={"serviceID": service_id})
        return result

    def resume(self, service_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json("POST", "/my-lab/app/resume", json={"serviceID": service_id})
        return result

    def rename(self, service_id: str, friendly_name: str) -> dict[str, Any]:
        body = {"serviceID": service_id, "friendlyName": friendly_name}
        result: dict[str, Any] = self._json("POST", "/my-lab/app/rename", json=body)
        return result

    def logs(self, service_id: str, *, tail: int | None = None, reveal: bool = False) -> str:
        params = {"serviceId": service_id} | ({"tail": tail} if tail is not None else {})
        if reveal:
            params["reveal"] = "true"
        return self.request("GET", "/my-lab/app/logs", params=params).text

    def follow_logs(self, service_id: str, *, tail: int | None = None, reveal: bool = False) -> Iterator[str]:
        """Log lines as they are written, until the service stops."""
        params: dict[str, Any] = {"serviceId": service_id, "follow": "true"}
        if reveal:
            params["reveal"] = "true"
        if tail is not None:
            params["tail"] = tail
        yield from self._stream_lines("/my-lab/app/logs", params)

    def progress(self, service_id: str) -> Iterator[dict[str, Any]]:
        """Start-up progress events (``kind``, ``progress``, ``message``...), ending after ready or failed."""
        for line in self._stream_lines(f"/services/{service_id}/progress", {}):
            if line.startswith("data: "):
                yield json.loads(line[len("data: ") :])

    def wait(
        self, service_id: str, statuses: Iterable[str] = FINAL_STATUSES, *, timeout: float = 600.0, poll: float = 0.5
    ) -> dict[str, Any]:
        """Poll the service until its status is one of ``statuses``; returns it.

        Raises:
            TimeoutError: not reached within ``timeout`` seconds.
        """
        wanted = set(statuses)
        deadline = time.monotonic() + timeout
        while True:
            service = self.service(service_id)
            if service["status"] in wanted:
                return service
            if time.monotonic() > deadline:
                raise TimeoutError(f"{service_id} is still {service['status']} after {timeout:g} s")
            time.sleep(poll)

    def _stream_lines(self, path: str, params: Mapping[str, Any]) -> Iterator[str]:
        try:
            with self._http.stream("GET", path, params=params, timeout=httpx.Timeout(10.0, read=None)) as response:
                if response.status_code >= 400:
                    response.read()
                    _raise_for_problem(response)
                yield from response.iter_lines()
        except httpx.TransportError as error:
            raise UnavailableError(f"Sardonyx is not running at {self.base_url}: {error}") from error


def _raise_for_problem(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        problem = response.json()
    except ValueError:
        problem = {"detail": response.text or response.reason_phrase}
    if not isinstance(problem, dict):
        problem = {"detail": str(problem)}
    raise error_from_problem(problem, response.status_code)
