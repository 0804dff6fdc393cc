"""An invalid setting is one line naming the setting, its value and what is allowed, exit status 2, never a
traceback, whatever the command (issue 10)."""

from __future__ import annotations

import sys

import pytest

from sardonyx.cli import main

CASES = [
    ({"SARDONYX_PORT": "abc"}, ["status"], "port (SARDONYX_PORT) = 'abc': Input should be a valid integer"),
    ({"SARDONYX_REGION__RUNTIME": "kubernetes"}, ["values", "python-job"],
     "region.runtime (SARDONYX_REGION__RUNTIME) = 'kubernetes': Input should be"),
    ({"SARDONYX_PORT": "70000"}, ["launch", "jupyter-python"], "port (SARDONYX_PORT) = '70000': Input should be less"),
    ({"SARDONYX_PUBLIC_HOSTS": "not json"}, ["services"], "public_hosts (SARDONYX_PUBLIC_HOSTS) = 'not json'"),
    ({"SARDONYX_S3__PORTS__FILER": "-1"}, ["catalog", "list"], "s3.ports.filer (SARDONYX_S3__PORTS__FILER) = '-1'"),
]  # fmt: skip


@pytest.mark.parametrize(("env", "args", "expected"), CASES)
def test_an_invalid_setting_is_one_line_and_exit_2(
    env: dict[str, str], args: list[str], expected: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("COLUMNS", "300")
    monkeypatch.setattr(sys, "argv", ["sardonyx", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: invalid setting ") and expected in lines[0], err
    assert "Traceback" not in err
