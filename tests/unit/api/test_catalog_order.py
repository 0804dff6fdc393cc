"""A chart in several catalogs resolves in a documented order (the built-in catalog first, then the catalogs
file's order), and no answer ever names a catalog the user cannot see (issue 10)."""

from __future__ import annotations

from pathlib import Path

from sardonyx.api import create_app
from sardonyx.catalog import CatalogConfig, CatalogService
from sardonyx.catalog.service import builtin_catalog_config
from sardonyx.platform import Platform
from sardonyx.runtimes.fake import FakeRuntime
from sardonyx.settings import Settings
from sardonyx.state import StateStore
from tests.http import platform_test_client
from tests.unit.services.conftest import FakeCredentials, write_chart


def test_the_first_catalog_wins_and_restricted_ones_are_never_named(tmp_path: Path) -> None:
    for folder in ("onyxia", "admins"):
        write_chart(tmp_path / folder / "jupyter-python", "jupyter-python")
        write_chart(tmp_path / folder / "demo", "demo")
    write_chart(tmp_path / "admins" / "secret-tool", "secret-tool")
    admins_only = {"restrictions": [{"userAttribute": {"key": "groups", "matches": "admins"}}]}
    configs = [
        builtin_catalog_config(),
        CatalogConfig.model_validate({"id": "admins-only", "location": str(tmp_path / "admins")} | admins_only),
        CatalogConfig.model_validate({"id": "onyxia", "location": str(tmp_path / "onyxia")}),
    ]
    settings = Settings(data_dir=tmp_path / "data", login="alice")
    store = StateStore(":memory:")
    platform = Platform(settings, store=store, runtime=FakeRuntime(store), credentials=FakeCredentials(),
                        catalogs=CatalogService(configs, cache_dir=tmp_path / "cache"))  # fmt: skip
    with platform_test_client(create_app(platform, manage=True), platform) as client:
        body = {"packageName": "jupyter-python", "dryRun": True}
        preview = client.put("/my-lab/app", json=body)
        assert preview.status_code == 200, preview.text
        assert preview.json()["catalogId"] == "builtin"  # built-in first
        demo = client.put("/my-lab/app", json={"packageName": "demo", "dryRun": True}).json()
        assert demo["catalogId"] == "onyxia"  # admins-only comes before it in the file, but alice cannot see it
        assert "--catalog onyxia" not in demo["commands"]["sardonyx"]
        hidden = client.put("/my-lab/app", json={"packageName": "secret-tool", "dryRun": True})
        assert hidden.status_code == 404 and "admins-only" not in hidden.text
        listed = [c["id"] for c in client.get("/my-lab/catalogs").json()["catalogs"]]
        assert listed == ["builtin", "onyxia"]
