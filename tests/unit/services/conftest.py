"""A service layer over a FakeRuntime, an in-memory state store, fake S3 credentials and small test charts."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from sardonyx.catalog import CatalogConfig, CatalogService
from sardonyx.identity import User, local_user
from sardonyx.runtimes.fake import FakeBehaviour, FakeRuntime
from sardonyx.services import ServiceManager
from sardonyx.settings import Settings
from sardonyx.state import StateStore
from sardonyx.storage import S3Credentials

DEMO_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "replicas": {"type": "integer", "default": 1, "minimum": 1},
        "mode": {"type": "string", "enum": ["lab", "notebook"], "default": "lab"},
        "security": {
            "type": "object",
            "properties": {
                "password": {
                    "type": "string",
                    "default": "changeme",
                    "x-onyxia": {"overwriteDefaultWith": "{{service.oneTimePassword}}"},
                }
            },
        },
        "s3": {
            "type": "object",
            "properties": {
                "enabled": {"type": "boolean", "default": True},
                "accessKeyId": {"type": "string", "x-onyxia": {"overwriteDefaultWith": "{{s3.AWS_ACCESS_KEY_ID}}"}},
                "secretAccessKey": {
                    "type": "string",
                    "x-onyxia": {"overwriteDefaultWith": "{{s3.AWS_SECRET_ACCESS_KEY}}"},
                },
                "endpoint": {"type": "string", "x-onyxia": {"overwriteDefaultWith": "{{s3.AWS_S3_ENDPOINT}}"}},
                "bucket": {"type": "string", "x-onyxia": {"overwriteDefaultWith": "{{s3.AWS_BUCKET_NAME}}"}},
            },
        },
        "extra": {"type": "object", "additionalProperties": True, "default": {}},
    },
}

RECIPE: dict[str, Any] = {"kind": "service", "command": ["python", "-m", "http.server"]}


def write_chart(folder: Path, name: str, version: str = "1.0.0", *, recipe: bool = True) -> None:
    folder.mkdir(parents=True)
    (folder / "Chart.yaml").write_text(yaml.safe_dump({"apiVersion": "v2", "name": name, "version": version}))
    (folder / "values.yaml").write_text(yaml.safe_dump({"replicas": 1, "fromValuesYaml": "kept"}))
    (folder / "values.schema.json").write_text(json.dumps(DEMO_SCHEMA))
    if recipe:
        (folder / "recipe.yaml").write_text(yaml.safe_dump(RECIPE))


@pytest.fixture
def catalog_dir(tmp_path: Path) -> Path:
    root = tmp_path / "charts"
    for name in ("demo", "mlflow", "job", "broken", "slow"):
        write_chart(root / name, name)
    write_chart(root / "norecipe", "norecipe", recipe=False)
    return root


@dataclass
class FakeCredentials:
    """Issues fake keys per project and counts the calls."""

    issued: list[str] = field(default_factory=list)

    def for_project(self, project: str) -> S3Credentials:
        self.issued.append(project)
        return S3Credentials(f"AK-{project}", f"SK-{project}", "http://127.0.0.1:8430", project)

    def placeholder(self, project: str) -> S3Credentials:
        return S3Credentials("<AWS_ACCESS_KEY_ID>", "<AWS_SECRET_ACCESS_KEY>", "http://127.0.0.1:8430", project)


BEHAVIOURS: Mapping[str, FakeBehaviour] = {
    "mlflow": FakeBehaviour.instant(publishes={"MLFLOW_TRACKING_URI": "http://127.0.0.1:{port}"}),
    "job": FakeBehaviour.job(seconds=0.05),
    "broken": FakeBehaviour.failing(),
    "slow": FakeBehaviour.never_ready(),
}


@dataclass
class Harness:
    settings: Settings
    store: StateStore
    catalogs: CatalogService
    runtime: FakeRuntime
    credentials: FakeCredentials
    manager: ServiceManager
    user: User

    def restart(self, **runtime_options: Any) -> Harness:
        """A new runtime and manager over the same store (a platform restart)."""
        runtime = FakeRuntime(self.store, behaviours=BEHAVIOURS, **runtime_options)
        manager = ServiceManager(
            settings=self.settings,
            store=self.store,
            catalogs=self.catalogs,
            runtime=runtime,
            credentials=self.credentials,
        )
        return Harness(self.settings, self.store, self.catalogs, runtime, self.credentials, manager, self.user)


@pytest.fixture
def harness(tmp_path: Path, catalog_dir: Path) -> Harness:
    settings = Settings(data_dir=tmp_path / "data", login="alice", status_poll_seconds=0.01)
    store = StateStore(":memory:")
    config = CatalogConfig.model_validate({"id": "test", "location": str(catalog_dir), "multipleServicesMode": "all"})
    catalogs = CatalogService([config], cache_dir=tmp_path / "cache")
    runtime = FakeRuntime(store, behaviours=BEHAVIOURS)
    credentials = FakeCredentials()
    manager = ServiceManager(
        settings=settings, store=store, catalogs=catalogs, runtime=runtime, credentials=credentials
    )
    return Harness(settings, store, catalogs, runtime, credentials, manager, local_user(settings))
