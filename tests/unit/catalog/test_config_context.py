"""Catalog configuration files (the real Onyxia files, JSON5, YAML, errors), versions, and the launch context."""

from __future__ import annotations

from pathlib import Path

import pytest

from sardonyx.catalog import (
    CatalogConfigError,
    LaunchContext,
    MultipleServicesMode,
    adhoc_catalog_config,
    load_catalog_configs,
    localized,
    parse_catalog_configs,
)
from sardonyx.catalog.versions import is_prerelease, is_strict_semver, parse_version, sort_versions_desc
from sardonyx.errors import BadRequest


def test_onyxia_default_catalogs_load(onyxia_fixtures: Path) -> None:
    configs = load_catalog_configs(onyxia_fixtures / "catalogs" / "onyxia-api-default-catalogs.json")
    assert [c.id for c in configs] == ["ide", "databases", "automation"]
    ide = configs[0]
    assert ide.location == "https://inseefrlab.github.io/helm-charts-interactive-services"
    assert ide.highlighted_charts == ["jupyter-python", "rstudio", "vscode-python"]
    assert ide.multiple_services_mode is MultipleServicesMode.LATEST
    assert ide.max_number_of_versions == 5
    assert ide.allow_sharing is False and configs[1].allow_sharing is True
    assert localized(ide.name, "fr") == "Environnements de développement"
    assert ide.display_name == "Development environments"
    assert ide.is_url


@pytest.mark.parametrize(
    "name", ["catalog-loader-test-catalogs.json5", "catalog-loader-test-keywords-annotations-catalogs.json5"]
)
def test_onyxia_json5_test_files_load(onyxia_fixtures: Path, name: str) -> None:
    (config,) = load_catalog_configs(onyxia_fixtures / "catalogs" / name)
    assert config.id == "ide"
    assert config.timeout == "10m"
    assert config.visible.user and config.visible.project
    assert len(config.restrictions) == 1


def test_public_dict_hides_write_only_keys() -> None:
    (config,) = parse_catalog_configs(
        [{"id": "c", "location": "https://x", "username": "u", "password": "p", "restrictions": [], "unknownKey": 1}]
    )
    public = config.public_dict()
    assert "username" not in public and "password" not in public and "restrictions" not in public
    assert public["multipleServicesMode"] == "latest"
    assert public["name"] == "c"
    assert public["visible"] == {"user": True, "project": True}


def test_yaml_list_relative_locations_and_enum_spellings(tmp_path: Path) -> None:
    (tmp_path / "charts").mkdir()
    file = tmp_path / "catalogs.yaml"
    file.write_text(
        "- id: local\n  location: charts\n  multipleServicesMode: MAX_NUMBER\n  status: test\n"
        "- id: remote\n  location: https://example.org/charts/\n  excludedCharts: null\n"
    )
    local, remote = load_catalog_configs(file)
    assert local.location == str(tmp_path / "charts")
    assert local.multiple_services_mode is MultipleServicesMode.MAX_NUMBER
    assert local.status.value == "TEST"
    assert remote.excluded_charts == []


def test_invalid_configuration_lists_every_problem(tmp_path: Path) -> None:
    with pytest.raises(CatalogConfigError) as caught:
        parse_catalog_configs(
            [
                {"id": "ok", "location": "/x"},
                {"location": "/y"},
                {"id": "bad id!", "location": "/z", "type": "git"},
                {"id": "ok", "location": "/w", "multipleServicesMode": "sometimes"},
            ]
        )
    paths = [v.path for v in caught.value.violations]
    assert "catalogs[1].id" in paths
    assert "catalogs[2].id" in paths and "catalogs[2].type" in paths
    assert "catalogs[3].multipleServicesMode" in paths
    file = tmp_path / "broken.json"
    file.write_text("{ not: json: at all")
    with pytest.raises(CatalogConfigError, match="neither JSON, JSON5 nor YAML"):
        load_catalog_configs(file)
    with pytest.raises(CatalogConfigError, match="cannot read"):
        load_catalog_configs(tmp_path / "missing.json")
    with pytest.raises(CatalogConfigError, match="expected a list of catalogs"):
        parse_catalog_configs({"id": "x"})


def test_adhoc_catalog(tmp_path: Path) -> None:
    assert adhoc_catalog_config("https://inseefrlab.github.io/helm-charts-databases/").id == "helm-charts-databases"
    local = adhoc_catalog_config(str(tmp_path / "my charts"))
    assert local.id == "my-charts"
    assert local.location == str(tmp_path / "my charts")


def test_versions() -> None:
    assert sort_versions_desc(["1.0.0", "1.10.0", "1.2.0", "2.0.0-rc.1", "2.0.0", "v3", "junk"]) == [
        "v3",
        "2.0.0",
        "2.0.0-rc.1",
        "1.10.0",
        "1.2.0",
        "1.0.0",
        "junk",
    ]
    assert parse_version("1.1") is not None and parse_version("1.1") == parse_version("1.1.0")
    assert parse_version("1.0.0-alpha") < parse_version("1.0.0-alpha.1") < parse_version("1.0.0-beta")  # type: ignore[operator]
    assert parse_version("1.0.0-2") < parse_version("1.0.0-10")  # type: ignore[operator]
    assert is_prerelease("2.0.0-rc.1") and not is_prerelease("2.0.0")
    assert is_strict_semver("2.5.2") and not is_strict_semver("1.1") and not is_strict_semver("01.0.0")


def test_context_dict_has_onyxia_keys_and_omits_unset() -> None:
    context = LaunchContext.local_default(login="Bob.Martin", domain="lab.example.org")
    data = context.to_dict()
    assert data["user"]["idep"] == "bob-martin"
    assert data["project"]["id"] == "user-bob-martin"
    assert data["project"]["basic"]
    assert len(data["service"]["oneTimePassword"]) == 24
    assert 0 <= int(data["k8s"]["randomSubdomain"]) <= 999999
    assert data["k8s"]["domain"] == "lab.example.org"
    assert "s3" not in data and "vault" not in data
    assert "from" not in data["region"] and "resources" not in data["region"]
    assert data["region"]["allowedURIPattern"] == "^https://"
    assert data["git"]["credentials_cache_duration"] == 0
    assert "token" not in data["git"]
    other = LaunchContext.local_default(login="bob")
    assert other.service.oneTimePassword != context.service.oneTimePassword


def test_context_file_is_merged_over_the_default(tmp_path: Path) -> None:
    file = tmp_path / "context.yaml"
    file.write_text(
        "project: {id: projet-datascience}\n"
        "s3: {AWS_ACCESS_KEY_ID: AK, AWS_SECRET_ACCESS_KEY: SK, AWS_S3_ENDPOINT: s3.local:8333, port: 8333}\n"
        "region: {from: [{podSelector: {}}]}\n"
        "user: {profile: {aiAssistant: {model: x}}}\n"
    )
    base = LaunchContext.local_default(login="alice")
    context = LaunchContext.from_file(file, base=base)
    data = context.to_dict()
    assert data["project"]["id"] == "projet-datascience"
    assert data["project"]["password"] == base.project.password
    assert data["s3"]["AWS_DEFAULT_REGION"] == "us-east-1"
    assert data["s3"]["port"] == 8333
    assert data["region"]["from"] == [{"podSelector": {}}]
    assert data["user"]["profile"] == {"aiAssistant": {"model": "x"}}
    assert data["user"]["idep"] == "alice"
    assert LaunchContext.from_mapping({"s3": None}, base=context).s3 is None


def test_invalid_context_lists_violations(tmp_path: Path) -> None:
    with pytest.raises(BadRequest) as caught:
        LaunchContext.from_mapping({"user": {"lang": "klingon", "darkMode": "sometimes"}, "s3": {"port": "x"}})
    paths = {v.path for v in caught.value.violations}
    assert {"user.lang", "user.darkMode", "s3.port", "s3.AWS_S3_ENDPOINT"} <= paths
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n")
    with pytest.raises(BadRequest, match="must be a YAML mapping"):
        LaunchContext.from_file(bad)
    with pytest.raises(BadRequest, match="cannot read"):
        LaunchContext.from_file(tmp_path / "missing.yaml")
