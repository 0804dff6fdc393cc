"""The built-in charts' blocks follow the launch context: ``s3`` and ``vault`` are on exactly where the region
has S3 or Vault (their context block is present), and their sections are hidden where it has none."""

from __future__ import annotations

import pytest

from sardonyx.catalog import CatalogService, LaunchContext, S3Context
from sardonyx.catalog.form import FormDescription
from sardonyx.catalog.service import builtin_catalog_config

CHARTS = ["jupyter-python", "mlflow", "python-api", "python-job", "codif-dashboard", "label-studio"]
VAULT = {"VAULT_ADDR": "https://vault.example.org", "VAULT_TOKEN": "hvs.x", "VAULT_MOUNT": "kv", "VAULT_TOP_DIR": "bob"}


@pytest.fixture(scope="module")
def catalogs(tmp_path_factory: pytest.TempPathFactory) -> CatalogService:
    service = CatalogService([builtin_catalog_config()], cache_dir=tmp_path_factory.mktemp("cache"))
    service.load()
    return service


def _s3() -> S3Context:
    return S3Context(AWS_S3_ENDPOINT="http://127.0.0.1:8430", AWS_ACCESS_KEY_ID="AK", AWS_SECRET_ACCESS_KEY="SK")


def _node_hidden(form: FormDescription, path: str) -> bool:
    node = next(n for n in form.nodes() if n.path_text == path)
    return node.hidden is True or node.hidden_now


@pytest.mark.parametrize("chart", CHARTS)
def test_without_s3_or_vault_the_blocks_are_off_and_their_sections_hidden(catalogs: CatalogService, chart: str) -> None:
    version = catalogs.chart_version("builtin", chart)
    context = LaunchContext.local_default(login="bob")  # the local region without S3, and never a Vault
    computed = catalogs.compute_values(version, context)
    form = catalogs.form(version, context, values=computed.values)
    assert computed.values["s3"]["enabled"] is False and _node_hidden(form, "s3")
    if "vault" in computed.values:
        assert computed.values["vault"]["enabled"] is False and _node_hidden(form, "vault")


@pytest.mark.parametrize("chart", CHARTS)
def test_with_s3_and_vault_the_blocks_are_on_and_shown(catalogs: CatalogService, chart: str) -> None:
    version = catalogs.chart_version("builtin", chart)
    context = LaunchContext.from_mapping({"vault": VAULT}, base=LaunchContext.local_default(login="bob", s3=_s3()))
    computed = catalogs.compute_values(version, context)
    form = catalogs.form(version, context, values=computed.values)
    assert computed.values["s3"]["enabled"] is True and not _node_hidden(form, "s3")
    assert computed.values["s3"]["endpoint"] == "http://127.0.0.1:8430"
    # derived from the region, never shown: the endpoint already says the port
    assert _node_hidden(form, "s3.port") and _node_hidden(form, "s3.pathStyleAccess")
    if "vault" in computed.values:
        assert computed.values["vault"]["enabled"] is True and not _node_hidden(form, "vault")
        assert computed.values["vault"]["url"] == "https://vault.example.org"
    # a user can still turn a block off
    off = catalogs.form(version, context, values={**computed.values, "s3": {**computed.values["s3"], "enabled": False}})
    assert _node_hidden(off, "s3.accessKeyId") and not _node_hidden(off, "s3.enabled")


def test_chart_defaults_match_the_schemas(catalogs: CatalogService) -> None:
    """``values.yaml`` (what a plain ``helm install`` uses) agrees: no S3 or Vault unless the region gives one."""
    for chart in CHARTS:
        values = catalogs.chart_version("builtin", chart).values
        assert values["s3"]["enabled"] is False
        assert values.get("vault", {"enabled": False})["enabled"] is False, chart


def test_the_context_flags_are_present_only_with_their_block() -> None:
    local = LaunchContext.local_default(login="bob").to_dict()
    assert "s3" not in local and "vault" not in local
    full = LaunchContext.from_mapping({"vault": VAULT}, base=LaunchContext.local_default(login="bob", s3=_s3()))
    assert full.to_dict()["s3"]["enabled"] is True and full.to_dict()["vault"]["enabled"] is True


def test_python_api_serves_a_working_example_by_default(catalogs: CatalogService) -> None:
    """Launched with its defaults, python-api serves a small app whose health check answers (issue 10)."""
    import types

    from fastapi.testclient import TestClient

    version = catalogs.chart_version("builtin", "python-api")
    values = catalogs.compute_values(version, LaunchContext.local_default(login="bob")).values
    api = values["api"]
    assert api["module"] == "main:app" and api["healthPath"] == "/health" and api["code"].strip()
    module = types.ModuleType("main")
    exec(compile(api["code"], "main.py", "exec"), module.__dict__)  # noqa: S102 - the chart's own default source
    with TestClient(module.app) as client:
        assert client.get(api["healthPath"]).json() == {"status": "ok"}
        assert client.get("/hello", params={"name": "Insee"}).json() == {"message": "Hello, Insee!"}
