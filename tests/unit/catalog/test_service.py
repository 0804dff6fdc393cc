"""The catalog service: concurrent loading, refresh keeping the last good catalog, visibility rules, lookups
with clear errors, schema resolution cache, values."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from sardonyx.catalog import (
    CatalogConfig,
    CatalogService,
    LaunchContext,
    Override,
    SchemaRegistry,
    is_visible_to,
    load_catalog_configs,
)
from sardonyx.errors import CatalogError, InvalidValues, NotFound
from sardonyx.settings import Settings
from tests.unit.catalog.conftest import SMALL_SCHEMA, write_chart


def config(catalog_id: str, location: Path | str, **keys: Any) -> CatalogConfig:
    return CatalogConfig.model_validate({"id": catalog_id, "location": str(location), **keys})


@pytest.fixture
def folders(tmp_path: Path) -> dict[str, Path]:
    ide = tmp_path / "ide"
    write_chart(ide / "jupyter", "jupyter", "1.2.0", schema=SMALL_SCHEMA, values={"replicas": 1})
    write_chart(ide / "vscode", "vscode", "1.0.0", schema=SMALL_SCHEMA, values={})
    write_chart(ide / "rstudio", "rstudio", "1.0.0", schema=SMALL_SCHEMA, values={})
    db = tmp_path / "db"
    write_chart(db / "postgres", "postgres", "1.0.0", values={"auth": {"password": "x"}})
    write_chart(db / "jupyter", "jupyter", "0.1.0", values={})
    return {"ide": ide, "db": db}


def make_service(tmp_path: Path, *configs: CatalogConfig, **kwargs: Any) -> CatalogService:
    return CatalogService(list(configs), cache_dir=tmp_path / "cache", **kwargs)


def test_lists_charts_highlighted_first(tmp_path: Path, folders: dict[str, Path]) -> None:
    service = make_service(tmp_path, config("ide", folders["ide"], highlightedCharts=["vscode", "nope"]))
    assert [c.name for c in service.charts("ide")] == ["vscode", "jupyter", "rstudio"]


def test_lookup_errors_are_clear(tmp_path: Path, folders: dict[str, Path]) -> None:
    service = make_service(tmp_path, config("ide", folders["ide"]), config("db", folders["db"]))
    with pytest.raises(NotFound, match=r"no catalog 'x' \(catalogs: ide, db\)"):
        service.catalog("x")
    with pytest.raises(NotFound, match=r"no chart 'nope' in catalog 'ide' \(charts: jupyter, rstudio, vscode\)"):
        service.chart_version("ide", "nope")
    with pytest.raises(NotFound, match=r"has no version '9.9.9' \(versions: 1.2.0\)"):
        service.chart_version("ide", "jupyter", "9.9.9")
    assert service.find_chart("jupyter").catalog_id == "ide"  # in several catalogs: the first one (issue 10)
    assert service.find_chart("postgres").catalog_id == "db"
    with pytest.raises(NotFound, match="in any catalog"):
        service.find_chart("nope")


def test_failed_catalog_does_not_hide_the_others(tmp_path: Path, folders: dict[str, Path]) -> None:
    service = make_service(tmp_path, config("ide", folders["ide"]), config("gone", tmp_path / "gone"))
    states = {s.id: s for s in service.states()}
    assert states["ide"].loaded and states["ide"].error is None
    assert not states["gone"].loaded and "neither a folder" in (states["gone"].error or "")
    with pytest.raises(CatalogError, match="catalog 'gone' is not available"):
        service.catalog("gone")


def test_refresh_keeps_last_good_catalog_and_records_error(tmp_path: Path, folders: dict[str, Path]) -> None:
    service = make_service(tmp_path, config("ide", folders["ide"]))
    service.load()
    first = service.catalog("ide")
    shutil.rmtree(folders["ide"])
    service.refresh()
    state = service.state("ide")
    assert state.catalog is first
    assert state.error is not None and "neither a folder" in state.error
    write_chart(folders["ide"] / "new", "new", schema=SMALL_SCHEMA, values={})
    service.refresh()
    assert service.state("ide").error is None
    assert [c.name for c in service.charts("ide")] == ["new"]


def test_background_refresh_picks_up_changes(tmp_path: Path, folders: dict[str, Path]) -> None:
    service = make_service(tmp_path, config("ide", folders["ide"]), refresh_seconds=0.05)
    service.start_refresh()
    try:
        assert len(service.charts("ide")) == 3
        write_chart(folders["ide"] / "marimo", "marimo", schema=SMALL_SCHEMA, values={})
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(service.charts("ide")) == 3:
            time.sleep(0.02)
        assert "marimo" in [c.name for c in service.charts("ide")]
    finally:
        service.stop_refresh()


def test_restrictions_match_claims() -> None:
    restricted = config(
        "r",
        "/x",
        restrictions=[
            {"userAttribute": {"key": "groups", "matches": "admins|ops"}},
            {"userAttribute": {"key": "sub", "matches": "^onyxia.*"}},
        ],
    )
    assert is_visible_to(restricted, {"groups": ["users", "ops"], "sub": "onyxia-42"})
    assert not is_visible_to(restricted, {"groups": ["users"], "sub": "onyxia-42"})
    # full match, like Java's Matcher.matches()
    assert not is_visible_to(restricted, {"groups": ["devops"], "sub": "onyxia-42"})
    assert not is_visible_to(restricted, {"groups": ["ops"]})
    assert not is_visible_to(restricted, None)
    flag = config("f", "/x", restrictions=[{"userAttribute": {"key": "beta", "matches": "true"}}])
    assert is_visible_to(flag, {"beta": True})
    assert not is_visible_to(flag, {"beta": False})
    assert is_visible_to(config("open", "/x"), None)


def test_upstream_fixture_with_match_instead_of_matches_hides_the_catalog(onyxia_fixtures: Path) -> None:
    (catalog,) = load_catalog_configs(onyxia_fixtures / "catalogs" / "catalog-loader-test-catalogs.json5")
    assert catalog.restrictions[0].user_attribute is not None
    assert catalog.restrictions[0].user_attribute.matches is None
    assert not is_visible_to(catalog, {"sub": "onyxia-user"})


def test_visible_catalogs_by_project_kind_status_and_claims(tmp_path: Path, folders: dict[str, Path]) -> None:
    service = make_service(
        tmp_path,
        config("ide", folders["ide"]),
        config("db", folders["db"], visible={"user": False, "project": True}, status="TEST"),
        config("admin", folders["db"], restrictions=[{"userAttribute": {"key": "groups", "matches": "admins"}}]),
    )
    assert [s.id for s in service.visible_catalogs()] == ["ide", "db"]
    assert [s.id for s in service.visible_catalogs({"groups": ["admins"]})] == ["ide", "db", "admin"]
    assert [s.id for s in service.visible_catalogs(project_kind="user")] == ["ide"]
    assert [s.id for s in service.visible_catalogs(project_kind="group", include_test=False)] == ["ide"]
    assert [s.id for s in service.visible_catalogs(restricted=False)] == ["ide", "db", "admin"]
    with pytest.raises(NotFound):
        service.require_visible("admin", {"groups": ["users"]})
    assert service.require_visible("admin", {"groups": ["admins"]}).id == "admin"


def test_values_through_the_service(tmp_path: Path, folders: dict[str, Path]) -> None:
    service = make_service(tmp_path, config("ide", folders["ide"]))
    chart = service.chart_version("ide", "jupyter")
    context = LaunchContext.local_default(login="alice")
    computed = service.compute_values(chart, context, [Override.from_text("replicas", "3")])
    assert computed.values == {"replicas": 3, "password": context.service.oneTimePassword}
    assert computed.changes() == [(("replicas",), 3)]
    assert service.resolved_schema(chart) is service.resolved_schema(chart)
    assert service.resolved_schema(chart, ["admin"]) is not service.resolved_schema(chart)
    with pytest.raises(InvalidValues) as caught:
        service.compute_values(chart, context, [Override.from_text("replicas", "0"), Override.from_text("x", "1")])
    assert {v.path for v in caught.value.violations} == {"replicas", "x"}
    # a chart without schema: values.yaml alone
    db = make_service(tmp_path, config("db", folders["db"]))
    plain = db.compute_values(db.chart_version("db", "postgres"), context)
    assert plain.values == {"auth": {"password": "x"}}
    assert plain.schema is None


def test_invalid_json_schema_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    write_chart(folder / "bad", "bad", schema={"type": "object", "properties": {"a": {"type": "strnig"}}}, values={})
    service = make_service(tmp_path, config("c", folder))
    chart = service.chart_version("c", "bad")
    with pytest.raises(CatalogError, match=r"chart c/bad@1.0.0: values.schema.json is not a valid JSON schema"):
        service.resolved_schema(chart)


def test_from_settings_builtin_and_catalogs_file(
    tmp_path: Path, folders: dict[str, Path], onyxia_fixtures: Path
) -> None:
    catalogs = tmp_path / "catalogs.yaml"
    catalogs.write_text(f"catalogs:\n  - id: ide\n    location: {folders['ide'].name}\n")
    settings = Settings(
        data_dir=tmp_path / "data",
        catalogs_file=catalogs,
        schemas_dir=onyxia_fixtures / "onyxia-api-schemas",
    )
    service = CatalogService.from_settings(settings)
    assert [s.id for s in service.states()] == ["builtin", "ide"]
    assert service.cache_dir == tmp_path / "data" / "cache" / "catalogs"
    assert service.catalog("ide").config.location == str(folders["ide"])
    assert service.schema_registry.get("ide/resources.json") is not None
    only = CatalogService.from_settings(settings.model_copy(update={"builtin_catalog": False}))
    assert [s.id for s in only.states()] == ["ide"]


def test_registry_with_invalid_schema_file(tmp_path: Path) -> None:
    (tmp_path / "ide").mkdir()
    (tmp_path / "ide" / "bad.json").write_text("{nope")
    (tmp_path / "list.json").write_text("[1]")
    with pytest.raises(CatalogError) as caught:
        SchemaRegistry([tmp_path])
    assert {Path(v.path).name for v in caught.value.violations} == {"bad.json", "list.json"}


def test_form_and_equivalent_commands_through_the_service(tmp_path: Path, folders: dict[str, Path]) -> None:
    write_chart(folders["ide"] / "jupyter-next", "jupyter", "2.0.0", schema=SMALL_SCHEMA, values={})
    service = make_service(tmp_path, config("ide", folders["ide"], multipleServicesMode="all"))
    assert not service.all_loaded  # nothing read yet
    context = LaunchContext.local_default(login="alice")
    old = service.chart_version("ide", "jupyter", "1.2.0")
    form = service.form(old, context, values={"replicas": 0, "password": "typed"})
    assert form.field("replicas").value == 0 and form.field("replicas").default == 1
    assert form.field("password").default == context.service.oneTimePassword
    computed = service.compute_values(old, context, [Override.from_text("replicas", "2")])
    commands = service.equivalent_commands(computed, release="jupyter-123", friendly_name="My notebook")
    assert commands.helm[-1] == f"helm install jupyter-123 {folders['ide'] / 'jupyter'} -f values.yaml"
    # the only catalog with a chart of that name: `sardonyx launch` finds it without --catalog
    assert commands.sardonyx == "sardonyx launch jupyter --version 1.2.0 --name 'My notebook' --set replicas=2"
    latest = service.compute_values(service.chart_version("ide", "jupyter"), context)
    assert "--version" not in service.equivalent_commands(latest, release="jupyter-123").sardonyx
    both = make_service(tmp_path, config("ide", folders["ide"]), config("db", folders["db"]))
    latest = both.compute_values(both.chart_version("ide", "jupyter"), context)
    assert both.equivalent_commands(latest, release="jupyter-1").sardonyx == "sardonyx launch jupyter --catalog ide"
    postgres = both.compute_values(both.chart_version("db", "postgres"), context)
    assert both.equivalent_commands(postgres, release="postgres-1").sardonyx == "sardonyx launch postgres"
    assert service.all_loaded


def test_refresh_keeps_the_good_copy_of_a_version_that_fails_to_download(tmp_path: Path) -> None:
    from sardonyx.catalog.packaging import package_chart, write_repository_index

    source = write_chart(tmp_path / "src" / "c", "c", schema=SMALL_SCHEMA, values={"replicas": 2})
    repo = tmp_path / "repo"
    archive = package_chart(source, repo)
    write_repository_index(repo)
    service = make_service(tmp_path, config("r", repo.as_uri()))
    service.load()
    good = service.chart_version("r", "c")
    archive.unlink()
    shutil.rmtree(tmp_path / "cache")  # force a new download, which fails
    service.refresh()
    assert service.chart_version("r", "c") is good
    assert service.state("r").error is None
    assert service.catalog("r").problems == ("c 1.0.0: could not be read again, the previous copy is kept",)
