"""``codif serve`` start-up as a user meets it: a model that does not exist, an MLflow that is down; and the
published OpenAPI schema checked by schemathesis against the live server and the real codif model."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok

from sardonyx.ports import free_port

from .conftest import BIN, Served, start_serve

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _serve(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CODIF_SERVE_", "MLFLOW_"))} | env
    command = [str(BIN / "codif"), "serve", "--port", str(free_port()), *args]
    return subprocess.run(command, env=full, capture_output=True, text=True, timeout=timeout, check=False)


def test_an_unknown_alias_stops_the_start_with_one_line(mlflow_uri: str) -> None:
    result = _serve({"MLFLOW_TRACKING_URI": mlflow_uri}, "--model-uri", "models:/no-such-model@champion")
    assert result.returncode == 1
    assert "error: cannot resolve models:/no-such-model@champion in MLflow" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_mlflow_that_is_down_is_reported_in_seconds() -> None:
    started = time.monotonic()
    result = _serve({"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}"})
    assert result.returncode == 1
    assert "error: cannot resolve models:/codif@champion in MLflow (http://127.0.0.1:" in result.stderr
    assert time.monotonic() - started < 30


@pytest.fixture(scope="module")
def live(mlflow_uri: str, champion: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``codif serve`` on a fixed version of the real codif model."""
    served = start_serve(
        tmp_path_factory.mktemp("live"), {"MLFLOW_TRACKING_URI": mlflow_uri}, "--model-uri", f"models:/codif/{champion}"
    )
    try:
        yield served
    finally:
        served.stop()


def test_no_input_makes_the_live_api_fail(live: Served) -> None:
    # schemathesis.pytest.from_fixture does not work with pytest 9 (no `_nodeid`): drive each operation here
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    labels = []
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            pytest.fail(f"the published schema has an invalid operation: {result.err()}")
        operation = result.ok()
        labels.append(operation.label)

        @given(case=operation.as_strategy())
        @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: schemathesis.Case[Any]) -> None:
            case.call_and_validate()

        check()
    assert sorted(labels) == ["GET /health", "GET /predict", "POST /admin/reload", "POST /predict"]
