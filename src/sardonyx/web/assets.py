"""Front-end assets of the web UI: pinned npm registry tarballs, fetched once, verified, extracted to a cache.

Why npm tarballs: htmx and its SSE extension are published by their authors on the npm registry; no
well-kept PyPI package ships them (the PyPI repackagings are stale Django apps). The setup command
(``sardonyx up``, ``sardonyx web assets``) and the test setup download each pinned tarball from
``registry.npmjs.org``, check it against the ``sha512`` integrity the registry publishes (pinned here, as
``package-lock.json`` pins it), and extract only the files the pages load. No Node is needed at run time and
no asset is pasted into the repository.

Layout of the cache: ``<assets dir>/<package>-<version>/<file name>``; a file is written to a temporary name
and renamed, so a half-written asset is never served.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import tarfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sardonyx.errors import UnavailableError
from sardonyx.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NpmAsset:
    """One pinned npm package and the files the pages use from it.

    Attributes:
        package / version: the npm package and its exact version.
        integrity: the registry's ``dist.integrity`` (``sha512-<base64>``) of the tarball.
        files: path inside the tarball (``package/dist/htmx.min.js``) -> file name served under ``/static/vendor/``.
    """

    package: str
    version: str
    integrity: str
    files: tuple[tuple[str, str], ...]

    @property
    def tarball_url(self) -> str:
        """The registry's tarball URL (``https://registry.npmjs.org/<pkg>/-/<pkg>-<version>.tgz``)."""
        name = self.package.rsplit("/", 1)[-1]
        return f"https://registry.npmjs.org/{self.package}/-/{name}-{self.version}.tgz"

    @property
    def folder(self) -> str:
        return f"{self.package.replace('/', '-')}-{self.version}"


NPM_ASSETS: Final[tuple[NpmAsset, ...]] = (
    NpmAsset(
        package="htmx.org",
        version="2.0.11",
        integrity="sha512-Thx/WtpeOQqSrqBCw/A1cwGJGg4UrVa3+sW0GmrM3p4gJgO89ecH4qtbnyzDDWFvBTqjnIMCgELTNt636dtamA==",
        files=(("package/dist/htmx.min.js", "htmx.min.js"),),
    ),
    NpmAsset(
        package="htmx-ext-sse",
        version="2.2.4",
        integrity="sha512-LJmxVhykyflBWgh5PvbRidcyuqMHlgfajmmzumvKctv9puvsufeH6OaejSMZTNTnEI8O2wXXn4ZZtBdpEMqmEQ==",
        files=(("package/dist/sse.min.js", "sse.min.js"),),
    ),
)
"""Every front-end asset of the web UI (htmx 2 and its server-sent events extension)."""

VENDOR_FILES: Final[dict[str, NpmAsset]] = {served: asset for asset in NPM_ASSETS for _, served in asset.files}
"""Served file name -> the package it comes from."""

_lock = threading.Lock()


def default_assets_dir() -> Path:
    """``$SARDONYX_WEB_ASSETS_DIR``, else ``$XDG_CACHE_HOME/sardonyx/web-assets`` (``~/.cache/...``): shared by
    every data directory of the user, so that tests and several platforms download once."""
    explicit = os.environ.get("SARDONYX_WEB_ASSETS_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sardonyx" / "web-assets"


def assets_dir(settings: Settings | None = None) -> Path:
    """Where the assets of ``settings`` live (the ``SARDONYX_WEB_ASSETS_DIR`` environment variable wins)."""
    del settings  # one cache per user: assets do not depend on the platform's data directory
    return default_assets_dir()


def asset_path(directory: Path, served_name: str) -> Path:
    """The cached file of a served name (``htmx.min.js``). Raises ``KeyError`` for an unknown name."""
    asset = VENDOR_FILES[served_name]
    return directory / asset.folder / served_name


def missing_assets(directory: Path) -> list[NpmAsset]:
    """Packages of which at least one file is not in ``directory`` yet."""
    return [a for a in NPM_ASSETS if not all((directory / a.folder / served).is_file() for _, served in a.files)]


def verify_integrity(data: bytes, integrity: str) -> None:
    """Check ``data`` against an npm ``sha512-<base64>`` integrity string (Subresource Integrity syntax).

    Raises:
        UnavailableError: another algorithm, or the digest differs (a tampered or truncated download).
    """
    algorithm, _, expected = integrity.partition("-")
    if algorithm != "sha512":
        raise UnavailableError(f"unsupported integrity algorithm {algorithm!r} (expected sha512)")
    actual = base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")
    if actual != expected:
        raise UnavailableError(f"integrity check failed: expected sha512-{expected}, got sha512-{actual}")


def install_asset(asset: NpmAsset, data: bytes, directory: Path) -> list[Path]:
    """Verify ``data`` (the tarball) and extract the asset's files into ``directory``; returns the paths written.

    Raises:
        UnavailableError: integrity mismatch, unreadable tarball, or a file missing from it.
    """
    verify_integrity(data, asset.integrity)
    target = directory / asset.folder
    target.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            for member_name, served in asset.files:
                member = archive.getmember(member_name)
                extracted = archive.extractfile(member) if member.isfile() else None
                if extracted is None:
                    raise UnavailableError(f"{asset.package}@{asset.version}: {member_name} is not a file")
                content = extracted.read()
                final = target / served
                partial = final.with_name(f".{served}.{os.getpid()}.part")
                partial.write_bytes(content)
                partial.replace(final)
                written.append(final)
    except (tarfile.TarError, KeyError) as error:
        raise UnavailableError(f"{asset.package}@{asset.version}: unreadable tarball ({error})") from error
    return written


def ensure_assets(directory: Path | None = None, *, timeout: float = 30.0) -> Path:
    """Download, verify and extract every missing asset into ``directory`` (default ``default_assets_dir()``);
    returns the directory. Idempotent and thread-safe; does nothing when every file is there.

    Raises:
        UnavailableError: the registry cannot be reached, or a tarball fails its integrity check (the message
            says which package and how to retry).
    """
    import httpx

    root = directory or default_assets_dir()
    with _lock:
        missing = missing_assets(root)
        if not missing:
            return root
        with httpx.Client(timeout=timeout, follow_redirects=True) as client:
            for asset in missing:
                log.info("downloading %s@%s from the npm registry", asset.package, asset.version)
                try:
                    response = client.get(asset.tarball_url)
                    response.raise_for_status()
                except httpx.HTTPError as error:
                    raise UnavailableError(
                        f"could not download the web UI asset {asset.package}@{asset.version} from "
                        f"{asset.tarball_url}: {error}; check the network and run `sardonyx web assets` again"
                    ) from error
                install_asset(asset, response.content, root)
    return root
