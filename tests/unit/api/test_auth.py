"""The request guard and the authentication layer (issue 10): Host allowlist, same-origin state changes, the
API token, login links and the session cookie, on every route of the app."""

from __future__ import annotations

import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from sardonyx.api import create_app
from sardonyx.auth import HostAllowlist, api_token_path, is_open_path, read_api_token
from sardonyx.auth.local import LocalAuthenticator
from sardonyx.platform import Platform
from tests.http import platform_test_client
from tests.unit.api.test_api import assert_problem
from tests.unit.api.test_api import platform as platform  # noqa: PLC0414 - the fixture, shared

EVIL_HOST = "evil.example:8420"


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with platform_test_client(create_app(platform, manage=True), platform) as client:
        yield client


@pytest.fixture
def anonymous(client: TestClient) -> TestClient:
    """The same client without the token (one platform, one lifespan)."""
    client.headers.pop("Authorization")
    return client


def test_a_foreign_host_header_is_refused_before_any_route(client: TestClient) -> None:
    for method, path in (("GET", "/account/storage"), ("GET", "/public/healthcheck"), ("GET", "/my-lab/services"),
                         ("PUT", "/my-lab/app"), ("POST", "/launcher/test/demo")):  # fmt: skip
        response = client.request(method, path, headers={"Host": EVIL_HOST, "Origin": f"http://{EVIL_HOST}"})
        problem = assert_problem(response, 421, "misdirected-request")
        assert "evil.example" in problem["detail"] and "public_hosts" in problem["detail"]
    assert client.get("/my-lab/services").status_code == 200  # 127.0.0.1:<port> is fine
    assert client.get("/my-lab/services", headers={"Host": "localhost:8420"}).status_code == 200


def test_the_allowlist() -> None:
    hosts = HostAllowlist(8420, public_hosts=["sardonyx.example.org", "proxy.example:9000"])
    for good in ("127.0.0.1:8420", "localhost:8420", "[::1]:8420", "LOCALHOST:8420", "sardonyx.example.org",
                 "sardonyx.example.org:8420", "proxy.example:9000"):  # fmt: skip
        assert hosts.allows(good), good
    for bad in ("evil.example:8420", "127.0.0.1:9999", "127.0.0.1", "localhost.evil.example:8420", "",
                "proxy.example:9001", "127.0.0.1:8420@evil", "0.0.0.0:8420"):  # fmt: skip
        assert not hosts.allows(bad), bad
    assert hosts.allows("127.0.0.1:43123", server_port=43123)  # the port the server really listens on


def test_a_cross_site_simple_post_cannot_prune_or_launch(client: TestClient, platform: Platform) -> None:
    simple = {"Content-Type": "text/plain", "Origin": "http://evil.example"}
    assert_problem(client.post("/platform/environments/prune", headers=simple), 403, "cross-origin")
    other_port = {"Origin": "http://127.0.0.1:9999", "Sec-Fetch-Site": "same-site"}  # another local server
    body = {"catalogId": "test", "packageName": "demo"}
    assert_problem(client.put("/my-lab/app", json=body, headers=other_port), 403, "cross-origin")
    assert_problem(client.post("/my-services/delete-all", headers={"Origin": "null"}), 403, "cross-origin")
    assert client.get("/my-lab/services").json()["apps"] == []


def all_routes(routes: Iterable[Any], prefix: str = "") -> Iterator[tuple[str, set[str]]]:
    """Every (path, methods) of an app, included routers walked (FastAPI 0.165 includes them lazily)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, set(route.methods or ())
        elif hasattr(route, "original_router"):
            yield from all_routes(route.original_router.routes, prefix + route.include_context.prefix)


def test_without_the_token_every_route_but_the_open_ones_answers_401(anonymous: TestClient, platform: Platform) -> None:
    checked = 0
    for path, methods in all_routes(create_app(platform).routes):
        if is_open_path(path):
            continue
        method = sorted(methods - {"HEAD"})[0]
        concrete = path.replace("{", "").replace("}", "")
        response = anonymous.request(method, concrete)
        assert response.status_code == 401, (method, path, response.status_code)
        checked += 1
    assert checked > 30
    response = anonymous.get("/my-lab/app", params={"serviceId": "x"})
    problem = assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "api token" in problem["detail"].lower()
    bad = anonymous.get("/my-lab/services", headers={"Authorization": "Bearer not-the-token"})
    assert bad.status_code == 401
    for path in ("/public/healthcheck", "/public/configuration", "/public/catalogs", "/openapi.json", "/login"):
        assert anonymous.get(path).status_code in {200, 401 if path == "/login" else 200}, path


def test_the_token_file_is_created_once_with_mode_0600(platform: Platform, tmp_path: Path) -> None:
    path = api_token_path(platform.settings.data_dir)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = read_api_token(platform.settings.data_dir)
    assert token is not None and len(token) >= 40
    path.chmod(0o644)
    assert Platform(platform.settings, store=platform.store, runtime=platform.runtime,
                    credentials=platform.credentials, catalogs=platform.catalogs).authenticator is not None  # fmt: skip
    assert read_api_token(platform.settings.data_dir) == token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_login_link_gives_one_browser_a_strict_http_only_session(client: TestClient, platform: Platform) -> None:
    link = client.post("/auth/login-links", params={"next": "/my-services"}).json()["url"]
    anonymous = client
    anonymous.headers.pop("Authorization")
    assert link.startswith(f"http://127.0.0.1:{platform.settings.port}/login?code=")
    code = link.split("code=")[1].split("&")[0]
    assert code != read_api_token(platform.settings.data_dir)
    shown = anonymous.get(link.removeprefix(str(anonymous.base_url)))
    assert shown.status_code == 200 and "set-cookie" not in shown.headers  # a GET changes nothing
    assert 'action="/login"' in shown.text
    origin = {"Origin": str(anonymous.base_url).rstrip("/")}
    answer = anonymous.post("/login", data={"code": code, "next": "/my-services"}, headers=origin,
                            follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303 and answer.headers["location"] == "/my-services"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"sardonyx-session-{platform.settings.port}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert anonymous.get("/my-services").status_code == 200
    assert anonymous.get("/my-lab/services").status_code == 200
    # with the cookie, a state change must prove it comes from the platform's own pages
    assert_problem(anonymous.post("/platform/environments/prune"), 403, "cross-origin")
    reused = anonymous.post("/login", data={"code": code}, headers=origin)
    assert reused.status_code == 401 and "used already" in reused.text
    anonymous.cookies.clear()
    page = anonymous.get("/my-services")
    assert page.status_code == 401 and "sardonyx open" in page.text  # the login page says how to log in


def test_session_cookies_are_signed_and_expire(platform: Platform) -> None:
    authenticator = platform.authenticator
    assert isinstance(authenticator, LocalAuthenticator)
    cookie = authenticator.session_cookie(platform.user, now=1000.0)
    assert authenticator.session_login(cookie, now=1001.0) == platform.user.idep
    assert authenticator.session_login(cookie, now=1000.0 + authenticator.session_max_age + 1) is None
    payload, _, signature = cookie.rpartition(".")
    assert authenticator.session_login(payload.replace(platform.user.idep, "mallory") + "." + signature) is None
    other = LocalAuthenticator(platform.user, "another-token", port=1)
    assert other.session_login(cookie, now=1001.0) is None
    code = authenticator.new_login_code()
    assert authenticator.redeem_login_code(code) == platform.user
    assert authenticator.redeem_login_code(code) is None
