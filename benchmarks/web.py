"""Web UI benchmarks: ``python -m benchmarks.web``.

Targets (issue 6): server time of the catalog page under 50 ms and of the jupyter-python launcher form under
100 ms (medians). Measured in process with Starlette's TestClient against the real app (``create_app`` with the
web UI), a FakeRuntime and placeholder S3 credentials (nothing else runs): the time from the request to the
complete HTML, with the catalogs loaded and the templates compiled by a warm-up request. Also reported: the
launcher of Onyxia's own jupyter-python chart (the conformance fixture: 130 fields, sliders, selects, YAML
blocks), a form submission with a change (preview), the services page with 10 services, and the RSS of the
process after the pages were rendered (the platform's budget is 200 MB).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import psutil
from fastapi.testclient import TestClient

from benchmarks._common import Figure, median_seconds, report
from sardonyx.api import create_app
from sardonyx.auth import auth_headers
from sardonyx.catalog import CatalogConfig, CatalogService
from sardonyx.catalog.service import builtin_catalog_config
from sardonyx.platform import Platform
from sardonyx.runtimes.fake import FakeRuntime
from sardonyx.settings import REPO_ROOT, Settings
from sardonyx.state import StateStore
from sardonyx.storage import S3Credentials

FIXTURES = (REPO_ROOT.parent / "shared" / "fixtures" / "onyxia").resolve()
RUNS = 25


class PlaceholderCredentials:
    def for_project(self, project: str) -> S3Credentials:
        return S3Credentials("AK", "SK", "http://127.0.0.1:8430", project)

    def placeholder(self, project: str) -> S3Credentials:
        return S3Credentials("<AWS_ACCESS_KEY_ID>", "<AWS_SECRET_ACCESS_KEY>", "http://127.0.0.1:8430", project)


def platform(root: Path) -> Platform:
    charts = root / "onyxia-charts"
    charts.mkdir()
    (charts / "jupyter-python").symlink_to(FIXTURES / "jupyter-python")
    onyxia = CatalogConfig.model_validate({"id": "onyxia", "location": str(charts)})
    store = StateStore(":memory:")
    return Platform(
        Settings(data_dir=root / "data", login="bench"),
        store=store,
        runtime=FakeRuntime(store),
        credentials=PlaceholderCredentials(),
        catalogs=CatalogService([builtin_catalog_config(), onyxia], cache_dir=root / "cache"),
    )


def timed_get(client: TestClient, url: str) -> float:
    def get() -> None:
        response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"{url}: {response.status_code}")

    median, _ = median_seconds(get, runs=RUNS, warmup=2)
    return median * 1000


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        served = platform(Path(folder))
        # as a logged-in client: the Host the request guard accepts, the platform's API token
        client = TestClient(create_app(served, manage=True), base_url=f"http://127.0.0.1:{served.settings.port}",
                            headers=auth_headers(served.settings.data_dir))  # fmt: skip
        with client:
            return _measure(client)


def _measure(client: TestClient) -> int:
    """Every figure, measured with ``client``; 0 when the targets are met."""
    figures = [
        Figure("catalog page (server time)", timed_get(client, "/catalog/builtin"), "ms", 50, runs=RUNS),
        Figure(
            "jupyter-python launcher form (server time)",
            timed_get(client, "/launcher/builtin/jupyter-python"),
            "ms",
            100,
            runs=RUNS,
        ),
        Figure(
            "Onyxia's jupyter-python launcher form (fixture chart)",
            timed_get(client, "/launcher/onyxia/jupyter-python"),
            "ms",
            runs=RUNS,
        ),
    ]
    form = {"action": "preview", "subdomain": "123456", "f:networking.port": "8890"}

    def submit() -> None:
        client.post("/launcher/builtin/jupyter-python", data=form)

    median, _ = median_seconds(submit, runs=RUNS, warmup=2)
    figures.append(Figure("launcher submission with a change (preview)", median * 1000, "ms", runs=RUNS))
    for index in range(10):
        client.post("/launcher/builtin/jupyter-python", data={"action": "launch", "name": f"nb {index}"})
    figures.append(Figure("my services page, 10 services", timed_get(client, "/my-services"), "ms", runs=RUNS))
    rss = psutil.Process(os.getpid()).memory_info().rss / 1e6
    figures.append(Figure("process RSS after the pages (benchmark process)", rss, "MB", runs=1))
    return 0 if report("web", figures) else 1


if __name__ == "__main__":
    sys.exit(main())
