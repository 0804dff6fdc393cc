"""Building Helm repositories from chart folders: ``helm package`` and ``helm repo index``, in Python.

Used to publish a folder of charts (e.g. the built-in catalog) as a Helm repository that Helm, Onyxia and
Sardonyx can all read, and by the tests and benchmarks to build real repositories from the Onyxia fixtures.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from sardonyx.catalog.loader import load_yaml
from sardonyx.errors import CatalogError

_INDEX_KEYS = (
    "apiVersion",
    "name",
    "version",
    "appVersion",
    "description",
    "type",
    "icon",
    "home",
    "sources",
    "keywords",
    "maintainers",
    "dependencies",
    "annotations",
    "deprecated",
    "kubeVersion",
)


def package_chart(
    chart_dir: Path,
    destination: Path,
    *,
    chart_yaml: Mapping[str, Any] | None = None,
    extra_files: Mapping[str, str | bytes] | None = None,
) -> Path:
    """Write ``<name>-<version>.tgz`` of ``chart_dir`` into ``destination`` (files under ``<name>/``, sorted,
    fixed timestamps: the same folder always gives the same bytes and digest).

    ``chart_yaml`` replaces the folder's ``Chart.yaml`` (to publish several versions of one folder);
    ``extra_files`` adds or replaces files (relative path -> content).

    Raises:
        CatalogError: no ``Chart.yaml``, or one without name or version.
    """
    if chart_yaml is None:
        chart_file = chart_dir / "Chart.yaml"
        if not chart_file.is_file():
            raise CatalogError(f"{chart_dir} has no Chart.yaml")
        chart_yaml = load_yaml(chart_file.read_text(encoding="utf-8")) or {}
    name, version = chart_yaml.get("name"), chart_yaml.get("version")
    if not name or version is None:
        raise CatalogError(f"{chart_dir}/Chart.yaml needs a name and a version")
    files: dict[str, bytes] = {}
    for path in sorted(chart_dir.rglob("*")):
        if path.is_file():
            files[path.relative_to(chart_dir).as_posix()] = path.read_bytes()
    files["Chart.yaml"] = yaml.safe_dump(dict(chart_yaml), sort_keys=False).encode("utf-8")
    for relative, content in (extra_files or {}).items():
        files[relative] = content.encode("utf-8") if isinstance(content, str) else content
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as archive,
    ):
        for relative in sorted(files):
            data = files[relative]
            info = tarfile.TarInfo(f"{name}/{relative}")
            info.size = len(data)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    destination.mkdir(parents=True, exist_ok=True)
    target = destination / f"{name}-{version}.tgz"
    target.write_bytes(buffer.getvalue())
    return target


def index_entry(archive: Path, *, url: str | None = None, created: str | None = None) -> dict[str, Any]:
    """The ``index.yaml`` entry of a chart archive: its ``Chart.yaml`` keys, ``urls`` and ``digest``.

    Raises:
        CatalogError: not a chart archive.
    """
    data = archive.read_bytes()
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            member = next(
                (m for m in tar.getmembers() if m.name.count("/") == 1 and m.name.endswith("/Chart.yaml")), None
            )
            if member is None:
                raise CatalogError(f"{archive} holds no <chart>/Chart.yaml")
            extracted = tar.extractfile(member)
            if extracted is None:
                raise CatalogError(f"{archive}: Chart.yaml is not a file")
            chart_yaml = load_yaml(extracted.read().decode("utf-8")) or {}
    except (tarfile.TarError, OSError) as error:
        raise CatalogError(f"{archive} is not a chart archive: {error}") from error
    entry = {key: chart_yaml[key] for key in _INDEX_KEYS if key in chart_yaml}
    entry.setdefault("apiVersion", "v2")
    entry["created"] = created or dt.datetime.now(dt.UTC).isoformat()
    entry["digest"] = hashlib.sha256(data).hexdigest()
    entry["urls"] = [url or archive.name]
    return entry


def write_repository_index(
    repository: Path, *, archives: Sequence[Path] | None = None, base_url: str | None = None
) -> Path:
    """Write ``repository/index.yaml`` for its ``*.tgz`` (or ``archives``), like ``helm repo index``.

    URLs are relative (the archive's file name) unless ``base_url`` is given.
    """
    entries: dict[str, list[dict[str, Any]]] = {}
    for archive in sorted(archives if archives is not None else repository.glob("*.tgz")):
        relative = archive.relative_to(repository).as_posix() if archive.is_relative_to(repository) else archive.name
        url = f"{base_url.rstrip('/')}/{relative}" if base_url else relative
        entry = index_entry(archive, url=url)
        entries.setdefault(str(entry["name"]), []).append(entry)
    index = {"apiVersion": "v1", "entries": entries, "generated": dt.datetime.now(dt.UTC).isoformat()}
    target = repository / "index.yaml"
    target.write_text(yaml.safe_dump(index, sort_keys=False), encoding="utf-8")
    return target
