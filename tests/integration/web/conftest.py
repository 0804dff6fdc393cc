"""A real platform for the web UI's integration and browser tests: the session's SeaweedFS with a per-test
project bucket, the local runtime (real processes, the shared environment cache), the built-in catalog, the API
app with the web UI served by uvicorn on a free loopback port; and Debian's chromium driven by Playwright."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from sardonyx.api import create_app
from sardonyx.auth import auth_headers
from sardonyx.catalog import CatalogService
from sardonyx.catalog.service import builtin_catalog_config
from sardonyx.platform import Platform
from sardonyx.ports import free_port
from sardonyx.runtimes.local import LocalRuntime
from sardonyx.runtimes.local.runtime import default_envs_dir
from sardonyx.settings import Settings
from sardonyx.state import StateStore
from sardonyx.storage import CredentialIssuer, SeaweedFS
from sardonyx.web.assets import ensure_assets
from tests.threaded_server import threaded_uvicorn

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class LiveServer:
    url: str
    platform: Platform
    server: uvicorn.Server
    login: str

    @property
    def project(self) -> str:
        return f"user-{self.login}"

    def login_link(self, next_path: str = "/") -> str:
        """A one-time login link of the web UI (what ``sardonyx open`` prints)."""
        with self.api() as client:
            response = client.post("/auth/login-links", params={"next": next_path})
            response.raise_for_status()
            return str(response.json()["url"])

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, headers=auth_headers(self.platform.settings.data_dir))


@pytest.fixture(scope="session")
def web_assets() -> Path:
    """The pinned front-end assets (downloaded once from the npm registry, integrity-checked, cached)."""
    return ensure_assets()


@pytest.fixture
def live_server(tmp_path: Path, seaweedfs: SeaweedFS, web_assets: Path) -> Iterator[LiveServer]:
    login = f"web{uuid.uuid4().hex[:8]}"
    settings = Settings(data_dir=tmp_path / "data", login=login, status_poll_seconds=0.2)
    store = StateStore(tmp_path / "data" / "sardonyx.db")
    envs = Path(os.environ.get("SARDONYX_TEST_ENVS_DIR", str(default_envs_dir())))
    platform = Platform(
        settings,
        store=store,
        runtime=LocalRuntime(store, settings.data_dir, envs_dir=envs, monitor_interval=0.2),
        credentials=CredentialIssuer(seaweedfs.endpoint, store),
        catalogs=CatalogService([builtin_catalog_config()], cache_dir=tmp_path / "catalog-cache"),
    )
    app = create_app(platform, manage=True, keepalive_seconds=1.0)
    port = free_port()
    with threaded_uvicorn(app, port, "web-live-server", timeout=60) as server:
        live = LiveServer(f"http://127.0.0.1:{port}", platform, server, login)
        yield live
        with live.api() as client:
            for app_data in client.get("/my-lab/services").json().get("apps", []):
                client.delete("/my-lab/app", params={"path": app_data["id"]})
            for _ in range(300):
                if not client.get("/my-lab/services").json().get("apps"):
                    break
                time.sleep(0.1)


@dataclass
class Browser:
    """One headless chromium (fresh profile) and the console errors of the pages it opened."""

    context: Any
    errors: list[str] = field(default_factory=list)

    def page(self, width: int = 1280, height: int = 900) -> Any:
        page = self.context.new_page()
        page.set_viewport_size({"width": width, "height": height})
        page.on("console", lambda message: self._console(page, message))
        page.on("pageerror", lambda error: self.errors.append(f"{page.url}: page error: {error}"))
        return page

    def _console(self, page: Any, message: Any) -> None:
        if message.type == "error":
            self.errors.append(f"{page.url}: {message.text}")


def log_in(browser: Browser, live: LiveServer) -> None:
    """Open a one-time login link in ``browser``, as a user does with the one ``sardonyx up`` prints."""
    page = browser.page()
    page.goto(live.login_link("/catalog"))
    page.wait_for_url(f"{live.url}/catalog/**")
    page.close()


@pytest.fixture
def browser(live_server: LiveServer) -> Iterator[Browser]:
    """A headless chromium logged into ``live_server`` (its session cookie in the profile)."""
    with anonymous_browser() as logged_in:
        log_in(logged_in, live_server)
        yield logged_in


@contextlib.contextmanager
def anonymous_browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (scripts/test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,  # the profile folder is passed as --user-data-dir by Playwright
            accept_downloads=True,
        )
        try:
            yield Browser(context)
        finally:
            context.close()
