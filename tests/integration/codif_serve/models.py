"""Models for the API's integration tests: the real codif model, trained and promoted with codif's own CLI on
the real data, and a broken pyfunc (no ``predict_forms``) that ``codif serve`` must refuse."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import mlflow
from mlflow.pyfunc.model import PythonModel

BIN = Path(sys.executable).parent


def codif(tracking_uri: str, workdir: Path, *args: str) -> str:
    """Run the ``codif`` CLI against ``tracking_uri`` in ``workdir``; its standard output."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MLFLOW_"))}
    env["MLFLOW_TRACKING_URI"] = tracking_uri
    result = subprocess.run(
        [str(BIN / "codif"), *args], env=env, cwd=workdir, capture_output=True, text=True, timeout=900, check=False
    )
    assert result.returncode == 0, f"codif {' '.join(args)}:\n{result.stdout}\n{result.stderr[-3000:]}"
    return result.stdout


def train(tracking_uri: str, workdir: Path, *params: str) -> str:
    """``codif train`` on the real data (``-p key=value`` params); the registered version."""
    output = codif(tracking_uri, workdir, "train", *(arg for param in params for arg in ("-p", param)))
    found = re.search(r"models:/codif/(\d+)", output)
    assert found, output
    return found.group(1)


def promote(tracking_uri: str, workdir: Path) -> None:
    """``codif promote --force``: @champion moves to the last trained version."""
    codif(tracking_uri, workdir, "promote", "--force")


class NotACoder(PythonModel):
    """A pyfunc model without ``predict_forms``: ``codif serve`` must refuse it and keep the old version."""

    def predict(self, context: Any, model_input: list[str], params: dict[str, Any] | None = None) -> list[str]:
        return ["0000Z" for _ in model_input]


def log_not_a_coder(name: str = "codif") -> str:
    """Register a :class:`NotACoder` version of ``name``; the new version."""
    import cloudpickle  # type: ignore[import-untyped]

    # pickle this module's classes by value: the API process cannot import the tests package
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(name="model", python_model=NotACoder(), registered_model_name=name)
    return str(info.registered_model_version)


def sirene_rows(shared: Path) -> list[dict[str, str]]:
    """The 50 real Sirene examples (``text_description, type_, nature, surface, event, code``)."""
    with (shared / "data" / "labeled" / "sirene_examples_50.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))
