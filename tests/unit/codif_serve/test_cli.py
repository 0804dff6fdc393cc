"""``codif serve`` as a user meets it: help, bad settings and a model that cannot load, in one line each."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from codif.cli import app
from codif.serve.settings import ServeSettings

runner = CliRunner()


def test_help_lists_the_stable_options() -> None:
    result = runner.invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--model-uri"):
        assert option in result.output


def test_a_bad_port_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    result = runner.invoke(app, ["serve", "--port", "70000"])
    assert result.exit_code == 2
    assert "error: port: Input should be less than or equal to 65535" in result.output
    assert "Traceback" not in result.output


def test_a_model_that_cannot_load_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR",
        "MLFLOW_HTTP_REQUEST_TIMEOUT",
    ):
        monkeypatch.setenv(name, "1")  # the command sets defaults in the environment; keep them in this test
    result = runner.invoke(app, ["serve", "--model-uri", str(tmp_path)])
    assert result.exit_code == 1
    assert f"error: {str(tmp_path)!r} is not an MLflow model directory (no MLmodel file in it)" in result.output
    assert "Traceback" not in result.output


def test_every_setting_is_documented() -> None:
    undocumented = [name for name, info in ServeSettings.model_fields.items() if len(info.description or "") < 20]
    assert undocumented == []


def test_default_model_uri_follows_name_and_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ServeSettings().resolved_model_uri == "models:/codif@champion"
    monkeypatch.setenv("CODIF_SERVE_MODEL_NAME", "codif-2025")
    monkeypatch.setenv("CODIF_SERVE_MODEL_ALIAS", "challenger")
    assert ServeSettings().resolved_model_uri == "models:/codif-2025@challenger"
    assert ServeSettings(model_uri="models:/codif/3").resolved_model_uri == "models:/codif/3"


def test_empty_variables_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    # what a chart template renders for an unset value: the defaults apply, nothing is "" and nothing fails
    for name in (
        "LOGS_BUCKET",
        "AUTH_TOKEN",
        "AUTH_USERNAME",
        "POLL_SECONDS",
        "MODEL_URI",
        "LOGS_DIR",
        "CORS_ORIGINS",
        "LOGS_ROTATE_SECONDS",
    ):
        monkeypatch.setenv(f"CODIF_SERVE_{name}", "")
    settings = ServeSettings()
    assert settings.logs_bucket is None
    assert settings.auth_token is None
    assert settings.auth_username is None
    assert not settings.auth_enabled
    assert settings.poll_seconds == 60.0
    assert settings.resolved_model_uri == "models:/codif@champion"
    assert settings.logs_dir == Path("business-logs")
    assert settings.cors_origins == []
    assert settings.logs_rotate_seconds == 300.0


def test_an_empty_option_means_unset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR",
        "MLFLOW_HTTP_REQUEST_TIMEOUT",
    ):
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv("CODIF_SERVE_MODEL_URI", str(tmp_path))
    # `--model-uri=` (rendered from an unset value) leaves the variable in force, not a model named ""
    result = runner.invoke(app, ["serve", "--model-uri=", "--host="])
    assert result.exit_code == 1
    assert f"error: {str(tmp_path)!r} is not an MLflow model directory" in result.output
