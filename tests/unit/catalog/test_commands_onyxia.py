"""Equivalent commands (helm, sardonyx) with name validation, and the Onyxia JSON shapes of catalogs."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from sardonyx.catalog import CatalogConfig, CatalogService, LaunchContext, Override
from sardonyx.catalog.commands import (
    helm_commands,
    sardonyx_launch_command,
    validate_label,
    validate_release_name,
)
from sardonyx.catalog.model import ChartVersion
from sardonyx.catalog.onyxia import catalog_wrapper_json, catalogs_json, chart_versions_json, resolved_schema_json
from sardonyx.catalog.overrides import parse_set_options
from sardonyx.catalog.packaging import package_chart, write_repository_index
from sardonyx.errors import InvalidName
from tests.unit.catalog.conftest import SMALL_SCHEMA, write_chart

REMOTE = CatalogConfig.model_validate(
    {"id": "ide", "location": "https://inseefrlab.github.io/helm-charts-interactive-services/"}
)


def chart(name: str = "jupyter-python", version: str = "2.5.2") -> ChartVersion:
    return ChartVersion(catalog_id="ide", name=name, version=version, metadata={"name": name, "version": version})


def test_helm_command_bar_like_onyxia() -> None:
    values = {"security": {"password": "pa$$word"}, "resources": {"limits": {"memory": "8Gi"}}}
    lines = helm_commands(REMOTE, chart(), release="jupyter-python-626146", values=values, reveal=True)
    assert lines[0] == "helm repo add ide https://inseefrlab.github.io/helm-charts-interactive-services"
    assert lines[1].startswith("cat << 'EOF' > ./values.yaml\n") and lines[1].endswith("\nEOF")
    assert yaml.safe_load(lines[1].split("\n", 1)[1].rsplit("\n", 1)[0]) == values
    assert lines[2] == "helm install jupyter-python-626146 ide/jupyter-python -f values.yaml"
    masked = helm_commands(REMOTE, chart(), release="jupyter-python-626146", values=values)  # the default
    assert "pa$$word" not in masked[1] and "password: '********'" in masked[1] and "memory: 8Gi" in masked[1]
    group = helm_commands(REMOTE, chart(), release="r", values={}, namespace="projet-x", version="2.5.1")
    assert group[-1] == "helm install r ide/jupyter-python --namespace projet-x --version 2.5.1 -f values.yaml"


def test_heredoc_delimiter_never_collides() -> None:
    lines = helm_commands(REMOTE, chart(), release="r", values={"text": "a\nEOF\nb"})
    assert "EOF" in lines[1]
    assert yaml.safe_load(lines[1].split("\n", 1)[1].rsplit("\n", 1)[0]) == {"text": "a\nEOF\nb"}


def test_folder_catalog_installs_from_the_chart_folder(tmp_path: Path) -> None:
    folder = write_chart(tmp_path / "c" / "small", "small", schema=SMALL_SCHEMA, values={})
    local = CatalogConfig.model_validate({"id": "local", "location": str(tmp_path / "c")})
    version = ChartVersion(catalog_id="local", name="small", version="1.0.0", metadata={}, directory=folder)
    lines = helm_commands(local, version, release="small-1", values={}, version="1.0.0")
    assert len(lines) == 2
    assert shlex.split(lines[-1]) == ["helm", "install", "small-1", str(folder), "-f", "values.yaml"]


@pytest.mark.parametrize(
    ("release", "namespace"),
    [
        ("Jupyter", None),
        ("a" * 54, None),
        ("jupyter; rm -rf /", None),
        ("ok", "bad_namespace"),
        ("ok", "-x"),
        ("ok", "x" * 64),
    ],
)
def test_invalid_names_never_reach_a_command(release: str, namespace: str | None) -> None:
    with pytest.raises(InvalidName):
        helm_commands(REMOTE, chart(), release=release, values={}, namespace=namespace)


def test_name_validators() -> None:
    assert validate_release_name("jupyter-python-626146") == "jupyter-python-626146"
    assert validate_label("user-bob") == "user-bob"
    with pytest.raises(InvalidName, match="RFC 1123"):
        validate_label("User-Bob", what="project")
    with pytest.raises(InvalidName):
        helm_commands(REMOTE, chart(version="1.1"), release="r", values={}, version="1.1")
    bad_url = CatalogConfig.model_validate({"id": "x", "location": "https://exa mple.org"})
    with pytest.raises(InvalidName):
        helm_commands(bad_url, chart(), release="r", values={})


def test_sardonyx_launch_line_round_trips_through_set_parsing() -> None:
    changes: list[tuple[tuple[str | int, ...], Any]] = [
        (("resources", "limits", "memory"), "8Gi"),
        (("persistence", "enabled"), False),
        (("nodeSelector", "kubernetes.io/hostname"), "node 1"),
        (("tolerations",), [{"key": "gpu"}]),
    ]
    line = sardonyx_launch_command("jupyter-python", changes, catalog_id="ide", version="2.5.2", name="My notebook")
    args = shlex.split(line)
    assert args[:9] == [
        "sardonyx",
        "launch",
        "jupyter-python",
        "--catalog",
        "ide",
        "--version",
        "2.5.2",
        "--name",
        "My notebook",
    ]
    sets = [args[i + 1] for i, a in enumerate(args) if a == "--set"]
    assert sets[2] == "nodeSelector.kubernetes\\.io/hostname=node 1"
    parsed = parse_set_options(sets)
    assert [o.path for o in parsed] == [c[0] for c in changes]
    assert parsed[3].text == json.dumps([{"key": "gpu"}], separators=(",", ":"))


def test_onyxia_catalog_shapes(tmp_path: Path, onyxia_fixtures: Path) -> None:
    repo = tmp_path / "repo"
    for name in ("jupyter-python", "mlflow"):
        package_chart(onyxia_fixtures / name, repo)
    write_repository_index(repo)
    config = CatalogConfig.model_validate(
        {"id": "ide", "location": str(repo), "highlightedCharts": ["mlflow"], "password": "secret", "restrictions": []}
    )
    service = CatalogService([config], cache_dir=tmp_path / "cache")
    wrapper = catalog_wrapper_json(service.state("ide"))
    json.dumps(wrapper)  # serialisable as it is
    assert wrapper["id"] == "ide" and wrapper["type"] == "helm" and wrapper["status"] == "PROD"
    assert "password" not in wrapper and "restrictions" not in wrapper
    assert wrapper["lastUpdateTime"] > 0
    packages = wrapper["catalog"]["latestPackages"]
    assert list(packages) == ["mlflow", "jupyter-python"]
    jupyter = packages["jupyter-python"]
    assert jupyter["version"] == "2.5.2" and jupyter["type"] == "application"
    assert jupyter["defaultValues"] == (onyxia_fixtures / "jupyter-python" / "values.yaml").read_text()
    assert jupyter["urls"] == ["jupyter-python-2.5.2.tgz"] and len(jupyter["digest"]) == 64
    assert jupyter["keywords"] == ["Jupyter", "Python"]
    assert isinstance(jupyter["created"], str)
    assert catalogs_json(service.states())["catalogs"][0]["id"] == "ide"
    versions = chart_versions_json(service.versions("ide", "mlflow"))
    assert [v["version"] for v in versions] == ["3.1.6"] and "defaultValues" not in versions[0]
    mlflow = service.chart_version("ide", "mlflow")
    schema = resolved_schema_json(service.resolved_schema(mlflow))
    assert schema is not None and schema["type"] == "object"
    computed = service.compute_values(
        mlflow, LaunchContext.local_default(login="bob"), [Override.typed("security.enabled", False)]
    )
    assert computed.values["security"]["enabled"] is False
