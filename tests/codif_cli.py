"""Run the ``codif`` command line in the test's process, as its console script does."""

from __future__ import annotations

import sys

import pytest

from codif import cli


def run_cli(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    """Run ``codif <argv>`` in this process (the console script's main); its exit status."""
    monkeypatch.setattr(sys, "argv", ["codif", *argv])
    try:
        cli.main()
    except SystemExit as stop:
        return int(stop.code or 0)
    return 0
