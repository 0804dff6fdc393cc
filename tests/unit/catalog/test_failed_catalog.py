"""A catalog that cannot load leaves the platform up (issue 10): the health check answers 200 naming it, the
others serve, and it is retried with back-off, one log line per attempt."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from sardonyx.api import create_app
from sardonyx.catalog import CatalogConfig, CatalogService
from sardonyx.platform import Platform
from sardonyx.runtimes.fake import FakeRuntime
from sardonyx.settings import Settings
from sardonyx.state import StateStore
from tests.http import platform_test_client
from tests.unit.services.conftest import FakeCredentials, write_chart


def configs(tmp_path: Path) -> list[CatalogConfig]:
    write_chart(tmp_path / "charts" / "demo", "demo")
    plain_file = tmp_path / "not-a-catalog.txt"
    plain_file.write_text("a plain file is neither a folder nor a Helm repository")
    return [CatalogConfig.model_validate({"id": "test", "location": str(tmp_path / "charts")}),
            CatalogConfig.model_validate({"id": "broken", "location": str(plain_file)})]  # fmt: skip


def test_the_health_check_answers_200_and_names_the_failed_catalog(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", login="alice")
    store = StateStore(":memory:")
    platform = Platform(settings, store=store, runtime=FakeRuntime(store), credentials=FakeCredentials(),
                        catalogs=CatalogService(configs(tmp_path), cache_dir=tmp_path / "cache"))  # fmt: skip
    with platform_test_client(create_app(platform, manage=True), platform) as client:
        health = client.get("/public/healthcheck")
        assert health.status_code == 200, health.text
        body = health.json()
        assert body["status"] == "degraded" and body["catalogs"] == {"test": True, "broken": False}
        assert "neither a folder nor a Helm repository" in body["failedCatalogs"]["broken"]
        status = client.get("/platform/status").json()
        assert "broken" in status["health"]["failedCatalogs"]
        launched = client.put("/my-lab/app", json={"catalogId": "test", "packageName": "demo"})
        assert launched.status_code == 200, launched.text  # the other catalogs serve


def test_a_failed_catalog_is_retried_with_back_off_one_line_per_attempt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    service = CatalogService(configs(tmp_path), cache_dir=tmp_path / "cache", refresh_seconds=60)
    caplog.set_level(logging.WARNING, logger="sardonyx.catalog")
    service.start_refresh()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and service.state("broken").failures < 3:
            time.sleep(0.05)
    finally:
        service.stop_refresh()
    lines = [r.getMessage() for r in caplog.records if "broken" in r.getMessage()]
    assert lines[:3] == [
        f"catalog broken did not load (attempt {n}): catalog 'broken': {tmp_path / 'not-a-catalog.txt'} is neither "
        f"a folder nor a Helm repository; next attempt in {delay} s"
        for n, delay in ((1, 1), (2, 2), (3, 4))
    ]
    assert service.state("test").loaded and service.retry_delay(20) == 60
