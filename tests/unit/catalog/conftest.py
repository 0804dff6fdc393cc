"""Fixtures for the catalog engine: the Onyxia conformance charts, the admin schema registry, a representative
launch context, and builders of small charts, chart folders and Helm repositories in temporary folders."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from sardonyx.catalog import LaunchContext, S3Context, SchemaRegistry, VaultContext
from sardonyx.catalog.context import K8sContext
from sardonyx.catalog.loader import read_chart_directory
from sardonyx.catalog.model import ChartVersion

FIXTURE_CHARTS = ("jupyter-python", "vscode-python", "rstudio", "mlflow", "postgresql")


@pytest.fixture(scope="session")
def registry(onyxia_fixtures: Path) -> SchemaRegistry:
    """The 22 admin schemas of onyxia-api, as the registry."""
    return SchemaRegistry([onyxia_fixtures / "onyxia-api-schemas"])


@pytest.fixture(scope="session")
def fixture_chart(onyxia_fixtures: Path) -> Callable[[str], ChartVersion]:
    def read(name: str) -> ChartVersion:
        return read_chart_directory(onyxia_fixtures / name, catalog_id="fixtures")

    return read


def representative_context() -> LaunchContext:
    """A context like the launcher's for user bob in his personal project, with S3 and Vault."""
    context = LaunchContext.local_default(login="bob", domain="lab.example.org", project_password="projectpw")
    context.service.oneTimePassword = "onetimepw"
    context.k8s = K8sContext(domain="lab.example.org", ingressClassName="nginx", randomSubdomain="626146")
    context.s3 = S3Context(
        profileName="default",
        AWS_ACCESS_KEY_ID="AKIABOB",
        AWS_SECRET_ACCESS_KEY="secret-bob",
        AWS_SESSION_TOKEN="session-bob",
        AWS_S3_ENDPOINT="minio.lab.example.org",
    )
    context.vault = VaultContext(
        VAULT_ADDR="https://vault.lab.example.org",
        VAULT_TOKEN="hvs.bob",
        VAULT_MOUNT="onyxia-kv",
        VAULT_TOP_DIR="bob",
    )
    context.git.name = "Bob Martin"
    context.git.email = "bob@example.org"
    context.git.token = "ghp_bob"
    return context


@pytest.fixture
def context() -> LaunchContext:
    return representative_context()


def write_chart(
    folder: Path,
    name: str,
    version: str = "1.0.0",
    *,
    schema: Mapping[str, Any] | str | None = None,
    values: Mapping[str, Any] | str | None = None,
    chart_yaml: Mapping[str, Any] | None = None,
    files: Mapping[str, str] | None = None,
) -> Path:
    """Write a chart folder ``folder`` (Chart.yaml, values.yaml, values.schema.json, extra files)."""
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"apiVersion": "v2", "name": name, "version": version, "type": "application", **(chart_yaml or {})}
    (folder / "Chart.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    if values is not None:
        text = values if isinstance(values, str) else yaml.safe_dump(dict(values), sort_keys=False)
        (folder / "values.yaml").write_text(text)
    if schema is not None:
        text = schema if isinstance(schema, str) else json.dumps(schema)
        (folder / "values.schema.json").write_text(text)
    for relative, content in (files or {}).items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    return folder


SMALL_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "replicas": {"type": "integer", "default": 1, "minimum": 1},
        "password": {
            "type": "string",
            "default": "changeme",
            "x-onyxia": {"overwriteDefaultWith": "{{service.oneTimePassword}}"},
        },
    },
}
