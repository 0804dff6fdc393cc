"""Entry point of the ``MLproject`` file: ``mlflow run .`` -> ``codif train`` inside the run MLflow opened.

MLflow passes every parameter, empty ones included; this turns them into ``codif train`` arguments (an empty
``--data`` means the nomenclature corpus; ``--extra "k=v k=v"`` carries parameters the MLproject does not list).
"""

from __future__ import annotations

import argparse
import sys

from codif import cli


def arguments(argv: list[str]) -> list[str]:
    """``codif train`` arguments from the MLproject command line."""
    parser = argparse.ArgumentParser(prog="python -m codif.mlproject")
    parser.add_argument("--data", default="")
    parser.add_argument("--extra", default="")
    parser.add_argument("-p", "--param", action="append", default=[])
    parsed = parser.parse_args(argv)
    out = ["train"]
    if parsed.data.strip():
        out += ["--data", parsed.data.strip()]
    for pair in [*parsed.param, *parsed.extra.split()]:
        out += ["--param", pair]
    return out


def main() -> None:
    sys.argv = ["codif", *arguments(sys.argv[1:])]
    cli.main()


if __name__ == "__main__":
    main()
