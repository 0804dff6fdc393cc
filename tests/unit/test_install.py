"""The README's first command installs quickly (issue 10): pip installs only uv, uv the rest; pyproject bounds
what made pip backtrack; the README reports the figure with the command that measures it."""

from __future__ import annotations

import re
import tomllib

from benchmarks.install import ROOT, readme_first_command
from packaging.requirements import Requirement


def test_the_first_command_bootstraps_uv_and_starts_the_platform() -> None:
    command = readme_first_command()
    steps = [step.strip() for step in command.split("&&")]
    assert steps[0] == "python3 -m venv .venv"
    assert steps[1] == ".venv/bin/pip install uv"
    assert steps[2].startswith(".venv/bin/uv pip install --python .venv -e .")
    assert steps[-1] == ".venv/bin/sardonyx up"
    test_script = (ROOT / "scripts" / "test").read_text()
    assert ".venv/bin/uv pip install" in test_script  # the test command installs the same way


def test_the_readme_reports_the_install_time_and_how_it_was_measured() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "python3 -m benchmarks.install" in readme
    figure = re.search(r"The first command takes \*\*(\d+) to (\d+) s\*\*", readme)
    assert figure is not None and int(figure.group(2)) < 120


def test_boto3_and_aiobotocore_are_bounded_together() -> None:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    bounded = {r.name: r for r in map(Requirement, dependencies)}
    for name in ("boto3", "aiobotocore"):
        assert any(spec.operator in {"<", "<=", "=="} for spec in bounded[name].specifier), name
