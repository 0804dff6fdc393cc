"""Loading catalogs: index filtering and pruning on the real index files, Helm repositories built from the
fixture charts (file:// and plain paths), folder catalogs, the archive cache, and broken input."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from sardonyx.catalog import CatalogConfig, load_catalog, select_entries
from sardonyx.catalog.loader import extract_chart_archive, load_yaml
from sardonyx.catalog.packaging import package_chart, write_repository_index
from sardonyx.errors import CatalogError
from tests.unit.catalog.conftest import FIXTURE_CHARTS, SMALL_SCHEMA, write_chart


def config(location: str | Path = "/nowhere", **keys: Any) -> CatalogConfig:
    return CatalogConfig.model_validate({"id": "test", "location": str(location), **keys})


def index_entries(onyxia_fixtures: Path, name: str) -> dict[str, Any]:
    index = load_yaml((onyxia_fixtures / "index" / name).read_text())
    entries: dict[str, Any] = index["entries"]
    return entries


def test_latest_mode_keeps_newest_and_drops_library_charts(onyxia_fixtures: Path) -> None:
    entries = index_entries(onyxia_fixtures, "helm-charts-interactive-services-index.trimmed.yaml")
    selected = select_entries(entries, config())
    assert "library-chart" in entries
    assert "library-chart" not in selected
    assert len(selected) == 21
    assert [e["version"] for e in selected["jupyter-python"]] == ["2.5.2"]


def test_all_and_max_number_modes(onyxia_fixtures: Path) -> None:
    entries = index_entries(onyxia_fixtures, "onyxia-api-catalog-loader-test-index.yaml")
    everything = select_entries(entries, config(multipleServicesMode="all"))
    assert [e["version"] for e in everything["keepme"]] == ["2.5.1", "2.4.1", "2.4.0"]
    two = select_entries(entries, config(multipleServicesMode="maxNumber", maxNumberOfVersions=2))
    assert [e["version"] for e in two["keepme"]] == ["2.5.1", "2.4.1"]


def test_skip_patches_keeps_newest_of_each_minor(onyxia_fixtures: Path) -> None:
    entries = index_entries(onyxia_fixtures, "onyxia-api-catalog-loader-test-index.yaml")
    selected = select_entries(entries, config(multipleServicesMode="skipPatches"))
    assert [e["version"] for e in selected["keepme"]] == ["2.5.1", "2.4.1"]


def test_excluded_charts_are_case_insensitive(onyxia_fixtures: Path) -> None:
    entries = index_entries(onyxia_fixtures, "onyxia-api-catalog-loader-test-index.yaml")
    selected = select_entries(entries, config(excludedCharts=["ExcludeMe"]))
    assert list(selected) == ["keepme"]


def test_keyword_and_annotation_filters_use_the_newest_version() -> None:
    entries: dict[str, list[dict[str, Any]]] = {
        "jupyter": [
            {"name": "jupyter", "version": "2.0.0", "keywords": ["IDE", "Python"], "annotations": {"tier": "gold"}},
            {"name": "jupyter", "version": "1.0.0", "keywords": ["Old"]},
        ],
        "postgres": [{"name": "postgres", "version": "1.0.0", "keywords": ["Database"]}],
        "beta": [{"name": "beta", "version": "0.1.0", "keywords": ["IDE", "Experimental"]}],
    }
    assert set(select_entries(entries, config(includeKeywords=["IDE"]))) == {"jupyter", "beta"}
    assert set(select_entries(entries, config(includeKeywords=["Old"]))) == set()
    assert set(select_entries(entries, config(excludeKeywords=["Experimental"]))) == {"jupyter", "postgres"}
    assert set(select_entries(entries, config(includeAnnotations={"tier": "gold"}))) == {"jupyter"}
    assert set(select_entries(entries, config(excludeAnnotations={"tier": "gold"}))) == {"postgres", "beta"}
    both = config(includeKeywords=["IDE"], excludeKeywords=["Experimental"])
    assert set(select_entries(entries, both)) == {"jupyter"}


def test_versions_sorted_by_semver_not_text() -> None:
    entries = {"c": [{"version": v} for v in ("1.9.0", "1.10.0", "1.10.0-rc.1", "1.2.0")]}
    selected = select_entries(entries, config(multipleServicesMode="all"))
    assert [e["version"] for e in selected["c"]] == ["1.10.0", "1.10.0-rc.1", "1.9.0", "1.2.0"]


@pytest.fixture
def fixture_repository(tmp_path: Path, onyxia_fixtures: Path) -> Path:
    repo = tmp_path / "repo"
    for name in (*FIXTURE_CHARTS, "library-chart"):
        package_chart(onyxia_fixtures / name, repo)
    write_repository_index(repo)
    return repo


@pytest.mark.parametrize("as_url", [True, False], ids=["file-url", "path"])
def test_helm_repository_of_fixture_charts(
    fixture_repository: Path, tmp_path: Path, onyxia_fixtures: Path, as_url: bool
) -> None:
    location = fixture_repository.as_uri() if as_url else str(fixture_repository)
    catalog = load_catalog(config(location), cache_dir=tmp_path / "cache")
    assert sorted(catalog.charts) == sorted(FIXTURE_CHARTS)
    assert catalog.problems == ()
    jupyter = catalog.get("jupyter-python")
    assert jupyter.version == "2.5.2"
    assert jupyter.schema is not None and "properties" in jupyter.schema
    assert jupyter.values["service"]["image"]["pullPolicy"] == "IfNotPresent"
    assert jupyter.values_yaml == (onyxia_fixtures / "jupyter-python" / "values.yaml").read_text()
    assert jupyter.directory is not None and (jupyter.directory / "Chart.yaml").is_file()
    assert jupyter.archive == fixture_repository / "jupyter-python-2.5.2.tgz"
    assert jupyter.metadata["digest"]
    assert catalog.index["apiVersion"] == "v1"
    assert catalog.last_update_time > 0


def test_archives_extracted_once_into_cache(fixture_repository: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = load_catalog(config(fixture_repository), cache_dir=cache)
    folder = first.get("mlflow").directory
    assert folder is not None
    marker = folder.parent.parent / ".sardonyx-complete"
    assert marker.is_file()
    stamp = marker.stat().st_mtime_ns
    second = load_catalog(config(fixture_repository), cache_dir=cache)
    assert second.get("mlflow").directory == folder
    assert marker.stat().st_mtime_ns == stamp


def test_relative_urls_resolved_against_location(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_chart(tmp_path / "src" / "small", "small", schema=SMALL_SCHEMA, values={"replicas": 2})
    archive = package_chart(tmp_path / "src" / "small", repo / "charts-dir")
    write_repository_index(repo, archives=[archive])
    index = yaml.safe_load((repo / "index.yaml").read_text())
    assert index["entries"]["small"][0]["urls"] == ["charts-dir/small-1.0.0.tgz"]
    catalog = load_catalog(config(repo.as_uri()), cache_dir=tmp_path / "cache")
    assert catalog.get("small").values == {"replicas": 2}


def test_subchart_copies_under_charts_are_ignored(tmp_path: Path) -> None:
    source = write_chart(
        tmp_path / "src" / "app",
        "app",
        schema=SMALL_SCHEMA,
        values={"replicas": 3},
        files={
            "charts/app/values.schema.json": json.dumps({"type": "string"}),
            "charts/app/values.yaml": "replicas: 99\n",
            "charts/app/Chart.yaml": "name: app\nversion: 9.9.9\n",
        },
    )
    repo = tmp_path / "repo"
    package_chart(source, repo)
    write_repository_index(repo)
    chart = load_catalog(config(repo), cache_dir=tmp_path / "cache").get("app")
    assert chart.values == {"replicas": 3}
    assert chart.schema == SMALL_SCHEMA
    assert chart.version == "1.0.0"


def test_recipe_and_notes_are_read_raw(tmp_path: Path) -> None:
    recipe = {"environment": {"requirements": ["jupyterlab"]}, "command": ["jupyter", "lab"]}
    source = write_chart(
        tmp_path / "src" / "notebook",
        "notebook",
        schema=SMALL_SCHEMA,
        values={},
        files={"recipe.yaml": yaml.safe_dump(recipe), "templates/NOTES.txt": "Open {{ .Values.url }}\n"},
    )
    repo = tmp_path / "repo"
    package_chart(source, repo)
    write_repository_index(repo)
    chart = load_catalog(config(repo), cache_dir=tmp_path / "cache").get("notebook")
    assert chart.recipe == recipe
    assert chart.notes == "Open {{ .Values.url }}\n"
    assert chart.directory is not None and (chart.directory / "recipe.yaml").is_file()


def test_chart_without_schema_loads_values_only(tmp_path: Path) -> None:
    source = write_chart(tmp_path / "src" / "plain", "plain", values={"a": {"b": 1}})
    repo = tmp_path / "repo"
    package_chart(source, repo)
    write_repository_index(repo)
    chart = load_catalog(config(repo), cache_dir=tmp_path / "cache").get("plain")
    assert chart.schema is None
    assert chart.problems == ()
    assert chart.values == {"a": {"b": 1}}


def test_invalid_json_schema_is_a_problem_of_that_version(tmp_path: Path) -> None:
    source = write_chart(tmp_path / "src" / "bad", "bad", schema='{"type": "object",', values={})
    write_chart(tmp_path / "src" / "good", "good", schema=SMALL_SCHEMA, values={})
    repo = tmp_path / "repo"
    package_chart(source, repo)
    package_chart(tmp_path / "src" / "good", repo)
    write_repository_index(repo)
    catalog = load_catalog(config(repo), cache_dir=tmp_path / "cache")
    bad = catalog.get("bad")
    assert len(bad.problems) == 1 and "values.schema.json is not valid JSON" in bad.problems[0]
    assert catalog.get("good").problems == ()
    assert any("bad 1.0.0" in p for p in catalog.problems)
    with pytest.raises(CatalogError, match=r"values\.schema\.json is not valid JSON"):
        bad.require_usable()


def test_digest_mismatch_and_missing_archive_are_reported(tmp_path: Path) -> None:
    source = write_chart(tmp_path / "src" / "c", "c", schema=SMALL_SCHEMA, values={})
    repo = tmp_path / "repo"
    package_chart(source, repo)
    write_repository_index(repo)
    index = yaml.safe_load((repo / "index.yaml").read_text())
    index["entries"]["c"][0]["digest"] = "0" * 64
    index["entries"]["gone"] = [{"name": "gone", "version": "1.0.0", "urls": ["gone-1.0.0.tgz"]}]
    (repo / "index.yaml").write_text(yaml.safe_dump(index))
    catalog = load_catalog(config(repo), cache_dir=tmp_path / "cache")
    assert "does not match the digest" in catalog.get("c").problems[0]
    assert "cannot download" in catalog.get("gone").problems[0]


def test_unreachable_and_malformed_index(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="neither a folder nor a Helm repository"):
        load_catalog(config(tmp_path / "missing"), cache_dir=tmp_path / "cache")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "index.yaml").write_text("entries: [unclosed\n")
    with pytest.raises(CatalogError, match="is not valid YAML"):
        load_catalog(config(repo), cache_dir=tmp_path / "cache")
    (repo / "index.yaml").write_text("apiVersion: v1\n")
    with pytest.raises(CatalogError, match="no 'entries' map"):
        load_catalog(config(repo), cache_dir=tmp_path / "cache")
    (repo / "index.yaml").write_text("entries:\n  x: 3\n")
    with pytest.raises(CatalogError, match="entries of x are not lists"):
        load_catalog(config(repo), cache_dir=tmp_path / "cache")


def test_folder_catalog_with_several_versions(tmp_path: Path) -> None:
    folder = tmp_path / "catalog"
    write_chart(folder / "jupyter-1", "jupyter", "1.0.0", schema=SMALL_SCHEMA, values={})
    write_chart(folder / "jupyter-2", "jupyter", "2.0.0-rc.1", schema=SMALL_SCHEMA, values={})
    write_chart(folder / "lib", "lib", chart_yaml={"type": "library"})
    write_chart(folder / "broken", "x", files={})
    (folder / "broken" / "Chart.yaml").write_text("name: [\n")
    (folder / "README.md").write_text("not a chart")
    catalog = load_catalog(config(folder, multipleServicesMode="all"), cache_dir=tmp_path / "cache")
    assert list(catalog.charts) == ["jupyter"]
    assert [v.version for v in catalog.versions("jupyter")] == ["2.0.0-rc.1", "1.0.0"]
    assert catalog.default_version("jupyter").version == "1.0.0"
    assert catalog.get("jupyter", "2.0.0-rc.1").directory == folder / "jupyter-2"
    assert any(p.startswith("broken:") for p in catalog.problems)


def test_unsafe_archive_member_is_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        data = b"evil"
        info = tarfile.TarInfo("../../escape.txt")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    with pytest.raises(CatalogError, match="not a readable chart archive"):
        extract_chart_archive(buffer.getvalue(), tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()
    with pytest.raises(CatalogError, match="not a readable chart archive"):
        extract_chart_archive(b"not gzip at all", tmp_path / "out2")
