from __future__ import annotations

from pathlib import Path

import pytest

from sardonyx.settings import Settings, settings_table


def test_every_setting_is_documented() -> None:
    undocumented = [row["name"] for row in settings_table() if len(row["description"]) < 20]
    assert undocumented == []


def test_environment_overrides_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SARDONYX_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SARDONYX_PORT", "9001")
    settings = Settings()
    assert settings.data_dir == tmp_path
    assert settings.port == 9001


def test_yaml_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "conf.yaml"
    config.write_text("port: 9100\ncatalog_refresh_seconds: 0\n")
    monkeypatch.setenv("SARDONYX_CONFIG", str(config))
    settings = Settings()
    assert settings.port == 9100
    assert settings.catalog_refresh_seconds == 0


def test_unknown_setting_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "conf.yaml"
    config.write_text("prot: 9100\n")
    monkeypatch.setenv("SARDONYX_CONFIG", str(config))
    with pytest.raises(ValueError, match="prot"):
        Settings()


def test_nested_settings_are_listed_and_set_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    names = {row["name"]: row["env"] for row in settings_table()}
    assert names["s3.ports.filer"] == "SARDONYX_S3__PORTS__FILER"
    assert names["region.runtime"] == "SARDONYX_REGION__RUNTIME"
    monkeypatch.setenv("SARDONYX_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SARDONYX_S3__PORTS__FILER", "18888")
    monkeypatch.setenv("SARDONYX_REGION__RUNTIME", "fake")
    settings = Settings()
    assert settings.s3.ports.filer == 18888
    assert settings.region.runtime == "fake"


def test_default_seaweedfs_ports_avoid_jupyter_and_are_distinct() -> None:
    ports = Settings().s3.ports.all()
    assert len(ports) == 10
    assert len(set(ports.values())) == 10
    assert 8888 not in ports.values()
    assert Settings().port not in ports.values()
