"""``sardonyx catalog list|show`` and ``sardonyx values`` as a user runs them: output, and errors as one
message plus one line per violation with exit status 1, never a traceback."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from sardonyx.catalog.packaging import package_chart, write_repository_index
from sardonyx.cli import main
from tests.unit.catalog.conftest import FIXTURE_CHARTS


def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["sardonyx", *args])
    try:
        main()
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def environment(tmp_path: Path, onyxia_fixtures: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    repo = tmp_path / "repo"
    for name in (*FIXTURE_CHARTS, "library-chart"):
        package_chart(onyxia_fixtures / name, repo)
    write_repository_index(repo)
    catalogs = tmp_path / "catalogs.json"
    catalogs.write_text(
        json.dumps(
            {
                "catalogs": [
                    {"id": "ide", "name": {"en": "IDE"}, "location": repo.as_uri(), "highlightedCharts": ["rstudio"]},
                    {"id": "broken", "location": (tmp_path / "nothing").as_uri()},
                ]
            }
        )
    )
    monkeypatch.setenv("SARDONYX_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SARDONYX_CATALOGS_FILE", str(catalogs))
    monkeypatch.setenv("SARDONYX_SCHEMAS_DIR", str(onyxia_fixtures / "onyxia-api-schemas"))
    monkeypatch.setenv("SARDONYX_BUILTIN_CATALOG", "false")
    monkeypatch.setenv("COLUMNS", "200")
    return repo


def test_catalog_list(environment: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(monkeypatch, capsys, "catalog", "list", "--catalog", "ide")
    assert code == 0, err
    assert "ide — IDE" in out
    lines = [line.split() for line in out.splitlines() if line.startswith("    ")]
    assert [line[0] for line in lines][:2] == ["rstudio", "jupyter-python"]
    assert "library-chart" not in out
    code, out, err = run(monkeypatch, capsys, "catalog", "list")
    assert code == 1
    assert "broken" in out and "cannot be read" in out and "jupyter-python" in out
    assert "error: 1 catalog(s) could not be read: broken" in " ".join(err.split())
    assert "Traceback" not in err


def test_catalog_show(environment: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(monkeypatch, capsys, "catalog", "show", "jupyter-python", "--catalog", "ide")
    assert code == 0, err
    assert "jupyter-python 2.5.2" in out
    assert "versions: 2.5.2 (default)" in out
    assert "resources.requests.cpu" in out and "range 50-40000m" in out
    assert "service.image.version" in out and "select (2 options)" in out
    assert "hidden if service.image.custom.enabled = true" in out
    assert "form: global" in out


def test_values_prints_yaml(
    environment: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    context = tmp_path / "context.yaml"
    context.write_text(
        "project: {id: projet-ds}\nk8s: {domain: lab.example.org, randomSubdomain: '42'}\n"
        "s3: {AWS_ACCESS_KEY_ID: AK, AWS_SECRET_ACCESS_KEY: SK, AWS_S3_ENDPOINT: s3.local}\n"
    )
    code, out, err = run(
        monkeypatch,
        capsys,
        "values",
        "jupyter-python",
        "--context",
        str(context),
        "--set",
        "resources.limits.memory=8Gi",
        "--set",
        "networking.user.port=8080",
    )
    assert code == 0, err
    values = yaml.safe_load(out)
    assert values["ingress"]["hostname"] == "projet-ds-42-0.lab.example.org"
    assert values["resources"]["limits"]["memory"] == "8Gi"
    assert values["networking"]["user"]["port"] == 8080
    assert values["s3"]["accessKeyId"] == "AK"
    code, out, _ = run(monkeypatch, capsys, "values", "postgresql", "--chart-defaults")
    assert code == 0
    assert yaml.safe_load(out)["postgresql"]["service"]["ports"]["postgresql"] == 5432


def test_values_errors_are_listed_without_traceback(
    environment: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        monkeypatch,
        capsys,
        "values",
        "jupyter-python",
        "--set",
        "networking.user.port=abc",
        "--set",
        "resourcez.limits.cpu=1",
        "--set",
        "persistence.enabled=maybe",
    )
    assert code == 1 and out == ""
    text = " ".join(err.split())
    assert "error: 3 invalid values for ide/jupyter-python@2.5.2" in text
    assert "networking.user.port: expected an integer, got 'abc'" in text
    assert "resourcez.limits.cpu: the chart's schema has no value resourcez (did you mean resources?)" in text
    assert "persistence.enabled: expected true or false, got 'maybe'" in text
    assert "Traceback" not in err
    for args, message in [
        (("values", "nope"), "no chart 'nope' in any catalog"),
        (("values", "jupyter-python", "--version", "9.9.9"), "has no version '9.9.9' (versions: 2.5.2)"),
        (("values", "jupyter-python", "--catalog", "nowhere"), "is neither a catalog id (ide, broken)"),
        (("values", "jupyter-python", "--set", "noequals"), "malformed --set options"),
        (("catalog", "list", "--catalog", "broken"), "1 catalog(s) could not be read: broken"),
    ]:
        code, _, err = run(monkeypatch, capsys, *args)
        assert code == 1, args
        assert message in " ".join(err.split()), (args, err)
        assert "Traceback" not in err


def test_catalog_given_as_url_or_path(
    environment: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(monkeypatch, capsys, "values", "mlflow", "--catalog", environment.as_uri())
    assert code == 0, err
    # the default context holds this machine's S3 as the platform gives it, bucket included (s3.AWS_BUCKET_NAME)
    directory = yaml.safe_load(out)["service"]["directory"]
    assert directory.startswith("s3://user-") and directory.endswith("/mlflow-artifacts")
    code, out, err = run(monkeypatch, capsys, "catalog", "list", "--catalog", str(environment))
    assert code == 0, err
    assert "repo — repo" in out


def test_catalog_slash_chart(
    environment: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(monkeypatch, capsys, "values", "ide/postgresql")
    assert code == 0, err
    assert yaml.safe_load(out)["postgresql"]["auth"]["database"] == "defaultdb"
    code, _, err = run(monkeypatch, capsys, "catalog", "show", "nope/postgresql")
    assert code == 1 and "is neither a catalog id" in " ".join(err.split())
