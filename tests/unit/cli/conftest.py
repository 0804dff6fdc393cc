"""The CLI as a user runs it, against a platform served over HTTP on a free loopback port by uvicorn in a
thread: a FakeRuntime (or a LocalRuntime over a fake environment cache), fake S3 credentials, a test catalog.
The data directory holds the lock and ``platform.json`` a daemon would, so ``sardonyx status`` finds it."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.console import Console

import sardonyx.cli as cli_module
from sardonyx.api import create_app
from sardonyx.auth import auth_headers
from sardonyx.catalog import CatalogConfig, CatalogService
from sardonyx.cli import envs as envs_module
from sardonyx.cli import main
from sardonyx.cli import platform as platform_module
from sardonyx.cli import services as services_module
from sardonyx.daemon import acquire_lock, platform_files
from sardonyx.platform import Platform
from sardonyx.ports import free_port
from sardonyx.runtimes.base import Runtime
from sardonyx.runtimes.fake import FakeRuntime
from sardonyx.runtimes.local import LocalRuntime
from sardonyx.settings import Settings
from sardonyx.state import StateStore
from tests.threaded_server import threaded_uvicorn
from tests.unit.services.conftest import BEHAVIOURS, FakeCredentials, write_chart


@dataclass
class Cli:
    """Runs ``sardonyx ARGS`` in this process (as the console script does); returns (status, stdout, stderr)."""

    platform: Platform
    url: str
    capsys: pytest.CaptureFixture[str]
    monkeypatch: pytest.MonkeyPatch

    width: int = 160

    @property
    def auth(self) -> dict[str, str]:
        """The platform's API token as a request header (for tests calling the REST API themselves)."""
        return auth_headers(self.platform.settings.data_dir)

    def __call__(self, *args: str) -> tuple[int, str, str]:
        self.monkeypatch.setattr(sys, "argv", ["sardonyx", *args])
        # Rich reads COLUMNS when a console is made (at import): give the module consoles a terminal's width
        for module in (cli_module, envs_module, platform_module, services_module):
            for name in ("console", "err", "err_console"):
                console = getattr(module, name, None)
                if isinstance(console, Console):
                    self.monkeypatch.setattr(console, "_width", self.width)
        try:
            main()
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err


def serve(platform: Platform, data_dir: Path, port: int) -> Iterator[str]:
    app = create_app(platform, manage=True, keepalive_seconds=0.05)
    with threaded_uvicorn(app, port, "cli-test-server"):
        files = platform_files(data_dir)
        lock = acquire_lock(files["lock"])
        url = f"http://127.0.0.1:{port}"
        files["state"].write_text(json.dumps({"pid": os.getpid(), "url": url, "startedAt": time.time()}))
        try:
            yield url
        finally:
            lock.close()
            files["state"].unlink(missing_ok=True)


def make_platform(tmp_path: Path, runtime_kind: str) -> tuple[Platform, int]:
    charts = tmp_path / "charts"
    for name in ("demo", "mlflow", "job", "broken", "slow"):
        write_chart(charts / name, name)
    port = free_port()
    settings = Settings(data_dir=tmp_path / "data", login="alice", port=port, status_poll_seconds=0.01)
    store = StateStore(":memory:")
    runtime: Runtime
    if runtime_kind == "local":
        runtime = LocalRuntime(store, settings.data_dir, envs_dir=tmp_path / "envs")
    else:
        runtime = FakeRuntime(store, behaviours=BEHAVIOURS)
    config = CatalogConfig.model_validate({"id": "test", "location": str(charts), "multipleServicesMode": "all"})
    catalogs = CatalogService([config], cache_dir=tmp_path / "cache")
    return Platform(settings, store=store, runtime=runtime, credentials=FakeCredentials(), catalogs=catalogs), port


def cli_for(
    tmp_path: Path, runtime_kind: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Cli]:
    platform, port = make_platform(tmp_path, runtime_kind)
    for name in [k for k in os.environ if k.startswith("SARDONYX_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SARDONYX_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SARDONYX_PORT", str(port))
    monkeypatch.setenv("SARDONYX_LOGIN", "alice")
    monkeypatch.setenv("COLUMNS", "160")  # Typer's help reads it when it renders
    for url in serve(platform, tmp_path / "data", port):
        yield Cli(platform, url, capsys, monkeypatch)


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    """``sardonyx`` against a FakeRuntime platform."""
    yield from cli_for(tmp_path, "fake", capsys, monkeypatch)


@pytest.fixture
def local_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    """``sardonyx`` against a LocalRuntime platform whose environment cache is ``tmp_path / "envs"``."""
    yield from cli_for(tmp_path, "local", capsys, monkeypatch)
