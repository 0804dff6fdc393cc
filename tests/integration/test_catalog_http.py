"""Catalogs served by a real HTTP server on 127.0.0.1 (a free port): download, cache, basic auth, errors."""

from __future__ import annotations

import base64
import contextlib
import functools
import socket
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from sardonyx.catalog import CatalogConfig, CatalogService, LaunchContext, load_catalog
from sardonyx.catalog.packaging import package_chart, write_repository_index
from sardonyx.errors import CatalogError

pytestmark = pytest.mark.integration

CHARTS = ("jupyter-python", "mlflow", "postgresql", "library-chart")


class _Handler(SimpleHTTPRequestHandler):
    requests: list[str]
    credentials: str | None = None
    delay: float = 0.0

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        type(self).requests.append(self.path)
        if self.delay:
            time.sleep(self.delay)
        if self.credentials is not None:
            expected = "Basic " + base64.b64encode(self.credentials.encode()).decode()
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="charts"')
                self.end_headers()
                return
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            super().do_GET()


class Server:
    def __init__(self, root: Path, **settings: Any) -> None:
        handler: type[_Handler] = type("Handler", (_Handler,), {"requests": [], **settings})
        self.handler = handler
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def requests(self) -> list[str]:
        return self.handler.requests

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def repository(tmp_path: Path, onyxia_fixtures: Path) -> Path:
    root = tmp_path / "site"
    repo = root / "charts"
    archives = [package_chart(onyxia_fixtures / name, repo / "packages") for name in CHARTS]
    write_repository_index(repo, archives=archives)
    return repo


@pytest.fixture
def served(repository: Path) -> Iterator[Server]:
    with Server(repository.parent) as server:
        yield server


def config(location: str, **keys: Any) -> CatalogConfig:
    return CatalogConfig.model_validate({"id": "ide", "location": location, **keys})


def test_catalog_over_http_with_relative_urls_and_cache(served: Server, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    catalog = load_catalog(config(f"{served.url}/charts/"), cache_dir=cache)
    assert sorted(catalog.charts) == ["jupyter-python", "mlflow", "postgresql"]
    assert catalog.problems == ()
    jupyter = catalog.get("jupyter-python")
    assert jupyter.archive is not None and jupyter.archive.is_file() and jupyter.archive.is_relative_to(cache)
    assert jupyter.directory is not None and (jupyter.directory / "values.schema.json").is_file()
    assert "/charts/packages/jupyter-python-2.5.2.tgz" in served.requests
    # library charts are never downloaded
    assert not any("library-chart" in r for r in served.requests)
    before = len(served.requests)
    again = load_catalog(config(f"{served.url}/charts"), cache_dir=cache)
    # the digests of index.yaml are unchanged: only the index is fetched again
    assert served.requests[before:] == ["/charts/index.yaml"]
    assert again.get("jupyter-python").directory == jupyter.directory
    assert again.get("jupyter-python").archive == jupyter.archive


def test_values_of_a_chart_served_over_http(served: Server, tmp_path: Path, onyxia_fixtures: Path) -> None:
    from sardonyx.catalog import SchemaRegistry

    service = CatalogService(
        [config(f"{served.url}/charts")],
        cache_dir=tmp_path / "cache",
        schema_registry=SchemaRegistry([onyxia_fixtures / "onyxia-api-schemas"]),
    )
    chart = service.chart_version("ide", "jupyter-python")
    values = service.compute_values(chart, LaunchContext.local_default(login="bob", domain="example.org")).values
    assert values["ingress"]["hostname"].startswith("user-bob-")
    assert values["ingress"]["hostname"].endswith("-0.example.org")


def test_basic_auth(repository: Path, tmp_path: Path) -> None:
    with Server(repository.parent, credentials="reader:s3cret") as server:
        with pytest.raises(CatalogError, match="HTTP 401"):
            load_catalog(config(f"{server.url}/charts"), cache_dir=tmp_path / "c1")
        catalog = load_catalog(
            config(f"{server.url}/charts", username="reader", password="s3cret"), cache_dir=tmp_path / "c2"
        )
        assert catalog.get("mlflow").problems == ()


def test_http_errors_are_clear(served: Server, tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match=r"cannot read http://127\.0\.0\.1:\d+/nothing/index\.yaml: .*HTTP 404"):
        load_catalog(config(f"{served.url}/nothing"), cache_dir=tmp_path / "cache")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with pytest.raises(CatalogError, match=r"cannot read .*ConnectError"):
        load_catalog(config(f"http://127.0.0.1:{closed_port}"), cache_dir=tmp_path / "cache")


def test_timeout(repository: Path, tmp_path: Path) -> None:
    with Server(repository.parent, delay=1.0) as server:
        started = time.monotonic()
        with pytest.raises(CatalogError, match="timed out"):
            load_catalog(config(f"{server.url}/charts"), cache_dir=tmp_path / "cache", http_timeout=0.2)
        assert time.monotonic() - started < 1.0
