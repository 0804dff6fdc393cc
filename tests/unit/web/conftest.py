"""The web UI over a platform with a FakeRuntime, fake S3 credentials, the built-in catalog and a chart that
uses every widget kind of the launcher form."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from sardonyx.api import create_app
from sardonyx.catalog import CatalogConfig, CatalogService
from sardonyx.catalog.service import builtin_catalog_config
from sardonyx.platform import Platform
from sardonyx.runtimes.fake import FakeBehaviour, FakeRuntime
from sardonyx.settings import Settings
from sardonyx.state import StateStore
from tests.http import platform_test_client
from tests.unit.services.conftest import FakeCredentials

WIDGETS_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "service": {
            "type": "object",
            "title": "Service",
            "description": "The **main** settings.",
            "properties": {
                "name": {"type": "string", "title": "Name", "default": "demo", "pattern": "^[a-z]+$"},
                "notes": {"type": "string", "render": "textArea", "default": "line 1"},
                "secret": {"type": "string", "render": "password", "default": "s3cret"},
                "ratio": {"type": "number", "default": 0.5, "minimum": 0, "maximum": 1},
                "replicas": {"type": "integer", "default": 1, "minimum": 1, "maximum": 5},
                "debug": {"type": "boolean", "default": False},
                "debugLevel": {
                    "type": "string",
                    "default": "info",
                    "enum": ["info", "trace"],
                    "hidden": {"value": False, "path": "debug", "isPathRelative": True},
                },
                "image": {"type": "string", "listEnum": ["python:3.11", "python:3.12"], "default": "python:3.11"},
                "fixed": {"type": "string", "const": "immutable", "default": "immutable"},
                "locked": {"type": "string", "default": "locked", "x-onyxia": {"readonly": True}},
                "internal": {"type": "string", "default": "internal", "hidden": True},
            },
        },
        "resources": {
            "type": "object",
            "properties": {
                "requests": {
                    "type": "object",
                    "properties": {
                        "cpu": {
                            "type": "string",
                            "default": "100m",
                            "render": "slider",
                            "sliderMin": 50,
                            "sliderMax": 4000,
                            "sliderStep": 50,
                            "sliderUnit": "m",
                            "sliderExtremity": "down",
                            "sliderRangeId": "cpu",
                            "sliderExtremitySemantic": "guaranteed",
                        }
                    },
                },
                "limits": {
                    "type": "object",
                    "properties": {
                        "cpu": {
                            "type": "string",
                            "default": "2000m",
                            "render": "slider",
                            "sliderMin": 50,
                            "sliderMax": 4000,
                            "sliderStep": 50,
                            "sliderUnit": "m",
                            "sliderExtremity": "up",
                            "sliderRangeId": "cpu",
                            "sliderExtremitySemantic": "maximum",
                        }
                    },
                },
                "memory": {
                    "type": "string",
                    "default": "2Gi",
                    "render": "slider",
                    "sliderMin": 1,
                    "sliderMax": 64,
                    "sliderStep": 1,
                    "sliderUnit": "Gi",
                },
            },
        },
        "extraValues": {"type": "object", "default": {"a": 1}},
        "env": {
            "type": "array",
            "default": [],
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string", "default": "KEY"}, "value": {"type": "string"}},
            },
        },
    },
}


def write_widgets_chart(folder: Path) -> None:
    folder.mkdir(parents=True)
    chart = {"apiVersion": "v2", "name": "widgets", "version": "2.0.0", "description": "Every <b>widget</b> kind."}
    (folder / "Chart.yaml").write_text(yaml.safe_dump(chart))
    (folder / "values.yaml").write_text(yaml.safe_dump({"service": {"name": "demo"}}))
    (folder / "values.schema.json").write_text(json.dumps(WIDGETS_SCHEMA))
    (folder / "recipe.yaml").write_text(yaml.safe_dump({"kind": "service", "command": ["python", "-V"]}))
    older = folder.parent / "widgets-old"
    older.mkdir()
    (older / "Chart.yaml").write_text(yaml.safe_dump({**chart, "version": "1.0.0"}))
    (older / "values.schema.json").write_text(json.dumps(WIDGETS_SCHEMA))
    (older / "recipe.yaml").write_text(yaml.safe_dump({"kind": "service", "command": ["python", "-V"]}))


@pytest.fixture
def platform(tmp_path: Path) -> Platform:
    charts = tmp_path / "charts"
    write_widgets_chart(charts / "widgets")
    settings = Settings(data_dir=tmp_path / "data", login="alice", status_poll_seconds=0.01)
    store = StateStore(":memory:")
    test_catalog = CatalogConfig.model_validate(
        {"id": "test", "name": "Test charts", "location": str(charts), "multipleServicesMode": "all"}
    )
    runtime = FakeRuntime(
        store,
        behaviours={"python-job": FakeBehaviour.failing(reason="ExitCode", message="the script exited with 3")},
        default=FakeBehaviour.instant(notes="Open **{url}** to start.", log_lines=("first <line>", "second line")),
    )
    return Platform(
        settings,
        store=store,
        runtime=runtime,
        credentials=FakeCredentials(),
        catalogs=CatalogService([builtin_catalog_config(), test_catalog], cache_dir=tmp_path / "cache"),
    )


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with platform_test_client(create_app(platform, manage=True, keepalive_seconds=0.05), platform) as test_client:
        yield test_client
