"""Install benchmark: ``python3 -m benchmarks.install [--runs N] [--no-pip-config] [--command CMD]``.

Target (issue 10): the README's first command (read from README.md, so that the two cannot disagree), run as a
new user runs it on a fresh machine, reaches a running platform in under 2 minutes on 2 cores.

Each run copies this checkout's files (tracked and untracked, not ignored: what a fresh clone has, plus the
changes not yet committed) into a new temporary folder and runs the command there under ``bash -c`` with:

- a fresh ``HOME`` (so ``~/.cache/pip``, ``~/.cache/uv``, ``~/.cache/sardonyx`` and the data directory
  ``~/.local/share/sardonyx`` are all empty), ``PIP_NO_CACHE_DIR=1``, a fresh empty ``UV_CACHE_DIR`` and
  ``XDG_CACHE_HOME``: every package is downloaded from the registries;
- free ports for the API and the ten SeaweedFS ports (``SARDONYX_PORT``, ``SARDONYX_S3__PORTS__*``), so that
  it never meets another platform of this machine;
- with ``--no-pip-config``, no pip configuration file (``PIP_CONFIG_FILE=/dev/null``) and no ``PIP_*``
  variables: as on a machine without local indexes, find-links or constraints; by default the machine's own
  pip configuration applies, as it would for a user of this machine.

The timed span is the command's wall time: venv, install, then ``sardonyx up``, which returns once the platform
answers its health check. ``sardonyx down`` follows each run (untimed) and the folder is removed. It needs only
the standard library, so that it runs before any virtual environment exists. Figures (median of the runs, with
the load average) are printed and written to ``benchmarks/results/install.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = Path(__file__).resolve().parent / "results"
TARGET_SECONDS = 120.0
S3_PORTS = ("s3", "s3_grpc", "master", "master_grpc", "volume", "volume_grpc", "filer", "filer_grpc", "admin",
            "admin_grpc")  # fmt: skip


def readme_first_command(readme: Path = ROOT / "README.md") -> str:
    """The first command line of the README's first ``bash`` block (comments skipped, ``\\`` continuations joined).

    Raises:
        ValueError: the README has no such block.
    """
    match = re.search(r"```bash\n(.*?)```", readme.read_text(), re.DOTALL)
    if match is None:
        raise ValueError(f"{readme} has no ```bash block")
    command = ""
    for raw in match.group(1).splitlines():
        line = raw.strip()
        if not line or (line.startswith("#") and not command):
            continue
        if line.endswith("\\"):
            command += line[:-1] + " "
            continue
        return command + line
    raise ValueError(f"the first ```bash block of {readme} has no command")


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def copy_checkout(target: Path) -> None:
    """The checkout's tracked and untracked (not ignored) files, copied to ``target``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode()  # fmt: skip
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if not source.is_file():
            continue  # deleted but not yet committed
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)


def run_environment(home: Path, *, pip_config: bool) -> dict[str, str]:
    keep = ("PATH", "LANG", "LC_ALL", "TERM", "TZ", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
    env = {k: v for k, v in os.environ.items() if k in keep or (pip_config and k.startswith("PIP_"))}
    env |= {
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "PIP_NO_CACHE_DIR": "1",
        "UV_CACHE_DIR": str(home / "uv-cache"),
    }
    if not pip_config:
        env["PIP_CONFIG_FILE"] = os.devnull
    ports = free_ports(1 + len(S3_PORTS))
    env["SARDONYX_PORT"] = str(ports[0])
    for name, port in zip(S3_PORTS, ports[1:], strict=True):
        env[f"SARDONYX_S3__PORTS__{name.upper()}"] = str(port)
    return env


def one_run(command: str, *, pip_config: bool, keep: bool) -> dict[str, object]:
    """Run ``command`` once in a fresh copy with empty caches; returns its wall time and outcome."""
    folder = Path(tempfile.mkdtemp(prefix="sardonyx-install-"))
    checkout, home = folder / "sardonyx", folder / "home"
    home.mkdir()
    copy_checkout(checkout)
    env = run_environment(home, pip_config=pip_config)
    load_before = os.getloadavg()[0]
    begin = time.perf_counter()
    result = subprocess.run(["bash", "-c", command], cwd=checkout, env=env, capture_output=True, text=True,
                            check=False)  # fmt: skip
    seconds = time.perf_counter() - begin
    load_after = os.getloadavg()[0]
    sardonyx = checkout / ".venv" / "bin" / "sardonyx"
    if sardonyx.exists():
        subprocess.run([str(sardonyx), "down"], cwd=checkout, env=env, capture_output=True, check=False)
    outcome: dict[str, object] = {
        "seconds": round(seconds, 1),
        "returncode": result.returncode,
        "load": [round(load_before, 2), round(load_after, 2)],
    }
    if result.returncode != 0:
        outcome["output"] = (result.stdout + result.stderr)[-3000:]
    if keep:
        outcome["folder"] = str(folder)
    else:
        shutil.rmtree(folder, ignore_errors=True)
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-pip-config", action="store_true", help="run without this machine's pip configuration")
    parser.add_argument("--command", help="the command to time (default: the README's first command)")
    parser.add_argument("--keep", action="store_true", help="keep each run's folder (to look at it)")
    args = parser.parse_args()
    command = args.command or readme_first_command()
    print(f"command: {command}\npip configuration: {'none' if args.no_pip_config else 'this machine'}", flush=True)
    runs = []
    for index in range(args.runs):
        outcome = one_run(command, pip_config=not args.no_pip_config, keep=args.keep)
        runs.append(outcome)
        print(f"run {index + 1}: {outcome['seconds']} s, exit {outcome['returncode']}, load {outcome['load']}",
              flush=True)  # fmt: skip
        if outcome["returncode"] != 0:
            print(outcome.get("output", ""), file=sys.stderr)
    ok = [float(str(r["seconds"])) for r in runs if r["returncode"] == 0]
    median = statistics.median(ok) if ok else float("nan")
    passed = len(ok) == len(runs) and median < TARGET_SECONDS
    verdict = "PASS" if passed else "FAIL"
    print(
        f"install to a running platform: {median:.1f} s median of {len(ok)} (target < {TARGET_SECONDS:g} s) {verdict}"
    )
    RESULTS_DIR.mkdir(exist_ok=True)
    payload = {"command": command, "pip_config": not args.no_pip_config, "median_seconds": median, "runs": runs,
               "target_seconds": TARGET_SECONDS, "passed": passed}  # fmt: skip
    (RESULTS_DIR / "install.json").write_text(json.dumps(payload, indent=2) + "\n")
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
