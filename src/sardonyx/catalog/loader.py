"""Reading one catalog: a Helm repository (``index.yaml`` + chart archives) or a folder of chart directories.

The steps follow onyxia-api's ``CatalogLoader`` (ONYXIA-REFERENCE 1.9): fetch ``<location>/index.yaml``; drop
``excludedCharts`` (case-insensitive) and library charts; keep a chart when the newest version passes the
keyword and annotation filters; sort versions newest first and prune them by ``multipleServicesMode``; then
read every kept version's archive (``urls[0]``, relative URLs resolved against the location), keeping the
chart's own ``Chart.yaml``, ``values.yaml``, ``values.schema.json``, ``recipe.yaml`` and
``templates/NOTES.txt`` (sub-chart copies under ``charts/`` are never read).

Archives are extracted once into a content-addressed cache folder (``<cache>/<catalog>/<chart>-<version>-
<digest>``), so each chart version has a directory on disk (the local runtime reads recipe files relative to
it) and an unchanged archive is neither downloaded nor extracted again when ``index.yaml`` gives its digest.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlparse

import httpx
import yaml

from sardonyx.catalog.config import CatalogConfig, MultipleServicesMode
from sardonyx.catalog.model import Catalog, ChartVersion
from sardonyx.catalog.versions import parse_version, version_sort_key
from sardonyx.errors import CatalogError

_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_COMPLETE_MARKER = ".sardonyx-complete"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

DEFAULT_HTTP_TIMEOUT = 30.0
"""Seconds allowed for one HTTP request of a catalog (index or archive)."""


def load_yaml(text: str) -> Any:
    """Parse YAML with libyaml when available (about 5x faster than the pure-Python parser)."""
    return yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506 - CSafeLoader/SafeLoader are the safe loaders


# ---------------------------------------------------------------------------------------------------------
# selecting versions (pure: unit-tested on the real index fixtures)


def select_entries(
    entries: Mapping[str, Sequence[Mapping[str, Any]]], config: CatalogConfig
) -> dict[str, list[Mapping[str, Any]]]:
    """Apply a catalog's filters and version pruning to ``index.yaml`` entries (name -> versions).

    Rules (ONYXIA-REFERENCE 1.9 and 3.1): ``excludedCharts`` match case-insensitively; library charts are
    dropped; a chart is kept when ``includeKeywords`` is empty or its newest version has one of them, and
    ``includeAnnotations`` is empty or it has one of the key/value pairs, and it has none of the
    ``excludeKeywords``/``excludeAnnotations``; versions are sorted newest first and pruned: ``latest`` keeps
    one, ``maxNumber`` keeps ``maxNumberOfVersions``, ``skipPatches`` keeps the newest of each major.minor,
    ``all`` keeps all.
    """
    excluded = {name.lower() for name in config.excluded_charts}
    selected: dict[str, list[Mapping[str, Any]]] = {}
    for name, versions in entries.items():
        if name.lower() in excluded:
            continue
        usable = [v for v in versions if isinstance(v, Mapping) and v.get("version") is not None]
        if not usable:
            continue
        usable.sort(key=lambda v: version_sort_key(str(v["version"])), reverse=True)
        newest = usable[0]
        if str(newest.get("type") or "application") == "library":
            continue
        if not _passes_filters(newest, config):
            continue
        selected[name] = prune_versions(usable, config)
    return selected


def _passes_filters(entry: Mapping[str, Any], config: CatalogConfig) -> bool:
    keywords = {str(k) for k in entry.get("keywords") or []}
    raw_annotations = entry.get("annotations") or {}
    annotations = {str(k): str(v) for k, v in raw_annotations.items()} if isinstance(raw_annotations, Mapping) else {}
    if config.include_keywords and not keywords.intersection(config.include_keywords):
        return False
    if config.include_annotations and not any(annotations.get(k) == v for k, v in config.include_annotations.items()):
        return False
    if keywords.intersection(config.exclude_keywords):
        return False
    return not any(annotations.get(k) == v for k, v in config.exclude_annotations.items())


def prune_versions(versions: Sequence[Mapping[str, Any]], config: CatalogConfig) -> list[Mapping[str, Any]]:
    """Keep the versions ``multipleServicesMode`` keeps; ``versions`` must be sorted newest first."""
    mode = config.multiple_services_mode
    if mode is MultipleServicesMode.ALL:
        return list(versions)
    if mode is MultipleServicesMode.LATEST:
        return list(versions[:1])
    if mode is MultipleServicesMode.MAX_NUMBER:
        return list(versions[: config.max_number_of_versions])
    kept: list[Mapping[str, Any]] = []
    previous = None
    for entry in versions:
        parsed = parse_version(str(entry["version"]))
        same_minor = (
            parsed is not None
            and previous is not None
            and (parsed.major, parsed.minor) == (previous.major, previous.minor)
        )
        if not same_minor:
            kept.append(entry)
        previous = parsed
    return kept


# ---------------------------------------------------------------------------------------------------------
# reading locations


@dataclass(frozen=True)
class _Location:
    """Where a catalog lives: an http(s) URL, or a local folder (from a path or a ``file://`` URL)."""

    url: str | None
    path: Path | None

    @classmethod
    def of(cls, location: str) -> _Location:
        parsed = urlparse(location)
        if parsed.scheme in ("http", "https"):
            return cls(location.rstrip("/"), None)
        if parsed.scheme == "file":
            return cls(None, Path(unquote(parsed.path)))
        return cls(None, Path(location).expanduser())

    def join(self, relative: str) -> str:
        """Resolve a chart URL against the location (absolute URLs are kept)."""
        if urlparse(relative).scheme in ("http", "https", "file"):
            return relative
        if self.url is not None:
            return urljoin(self.url + "/", relative)
        return str((self.path or Path()) / unquote(relative))


def _http_client(config: CatalogConfig, timeout: float) -> httpx.Client:
    verify: bool | str = not config.skip_tls_verify
    if config.ca_file and verify:
        ca_dir = os.environ.get("CACERTS_DIR", "")
        candidate = Path(ca_dir) / config.ca_file if ca_dir else Path(config.ca_file)
        if candidate.is_file():
            verify = str(candidate)
    auth = (config.username, config.password) if config.username and config.password else None
    return httpx.Client(timeout=timeout, verify=verify, auth=auth, follow_redirects=True)


def _fetch(address: str, client: httpx.Client | None) -> bytes:
    """Bytes at an http(s) URL, a ``file://`` URL or a local path; OSError/httpx errors propagate."""
    parsed = urlparse(address)
    if parsed.scheme in ("http", "https"):
        if client is None:
            raise CatalogError(f"no HTTP client to fetch {address}")
        response = client.get(address)
        if response.status_code >= 400:
            raise CatalogError(f"{address} answered HTTP {response.status_code}")
        return response.content
    path = Path(unquote(parsed.path)) if parsed.scheme == "file" else Path(address)
    return path.read_bytes()


def _describe(error: Exception) -> str:
    if isinstance(error, CatalogError):
        return error.message
    if isinstance(error, OSError):
        return error.strerror or str(error)
    if isinstance(error, httpx.TimeoutException):
        return "timed out"
    if isinstance(error, httpx.HTTPError):
        return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return str(error)


# ---------------------------------------------------------------------------------------------------------
# reading one chart directory


def read_chart_directory(
    directory: Path,
    *,
    catalog_id: str,
    metadata: Mapping[str, Any] | None = None,
    archive: Path | None = None,
    problems: Sequence[str] = (),
) -> ChartVersion:
    """Read a chart folder: ``Chart.yaml``, ``values.yaml``, ``values.schema.json``, ``recipe.yaml``,
    ``templates/NOTES.txt`` (sub-charts under ``charts/`` are ignored).

    ``metadata`` is the ``index.yaml`` entry when there is one (else ``Chart.yaml`` is the metadata). Problems
    (invalid YAML or JSON, a schema that is not an object) are recorded on the result, never raised.
    """
    found: list[str] = list(problems)
    chart_yaml = _read_yaml_mapping(directory / "Chart.yaml", found) or {}
    meta: Mapping[str, Any] = metadata if metadata is not None else chart_yaml
    name = str(meta.get("name") or chart_yaml.get("name") or directory.name)
    version = str(meta.get("version") or chart_yaml.get("version") or "")
    values_text = _read_text(directory / "values.yaml", found) or ""
    values: Mapping[str, Any] = {}
    if values_text.strip():
        try:
            parsed = load_yaml(values_text)
        except yaml.YAMLError as error:
            found.append(f"values.yaml is not valid YAML: {_yaml_problem(error)}")
        else:
            if isinstance(parsed, Mapping):
                values = parsed
            elif parsed is not None:
                found.append(f"values.yaml must be a mapping, not {type(parsed).__name__}")
    schema: Mapping[str, Any] | None = None
    digest = ""
    schema_text = _read_text(directory / "values.schema.json", found)
    if schema_text is not None:
        digest = hashlib.sha256(schema_text.encode("utf-8")).hexdigest()
        try:
            parsed_schema = json.loads(schema_text)
        except ValueError as error:
            found.append(f"values.schema.json is not valid JSON: {error}")
        else:
            if isinstance(parsed_schema, Mapping):
                schema = parsed_schema
            else:
                found.append(f"values.schema.json must be a JSON object, not {type(parsed_schema).__name__}")
    recipe = _read_yaml_mapping(directory / "recipe.yaml", found)
    notes = _read_text(directory / "templates" / "NOTES.txt", found)
    return ChartVersion(
        catalog_id=catalog_id,
        name=name,
        version=version,
        metadata=meta,
        chart_yaml=chart_yaml,
        values_yaml=values_text,
        values=values,
        schema=schema,
        schema_digest=digest,
        recipe=recipe,
        notes=notes,
        directory=directory,
        archive=archive,
        problems=tuple(found),
    )


def _read_text(path: Path, problems: list[str]) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        problems.append(f"cannot read {path.name}: {error}")
        return None


def _read_yaml_mapping(path: Path, problems: list[str]) -> Mapping[str, Any] | None:
    text = _read_text(path, problems)
    if text is None:
        return None
    try:
        parsed = load_yaml(text)
    except yaml.YAMLError as error:
        problems.append(f"{path.name} is not valid YAML: {_yaml_problem(error)}")
        return None
    if parsed is None:
        return {}
    if not isinstance(parsed, Mapping):
        problems.append(f"{path.name} must be a mapping, not {type(parsed).__name__}")
        return None
    return parsed


def _yaml_problem(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    return f"{problem} (line {mark.line + 1})" if mark is not None else str(problem)


# ---------------------------------------------------------------------------------------------------------
# archives


def extract_chart_archive(data: bytes, destination: Path) -> Path:
    """Extract a chart ``.tgz`` under ``destination`` (tar ``data`` filter: no absolute paths, no links
    leaving the folder) and return the chart's root folder, the one holding ``Chart.yaml``.

    Raises:
        CatalogError: not a gzip tar archive, unsafe member, or no ``Chart.yaml`` at depth one.
    """
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            names = archive.getnames()
            archive.extractall(destination, filter="data")
    except (tarfile.TarError, OSError, EOFError) as error:
        raise CatalogError(f"not a readable chart archive ({error})") from error
    roots = sorted({Path(n).parts[0] for n in names if len(Path(n).parts) == 2 and Path(n).name == "Chart.yaml"})
    if roots:
        return destination / roots[0]
    if (destination / "Chart.yaml").is_file():
        return destination
    raise CatalogError("the archive holds no Chart.yaml")


def _cached_archive_version(
    entry: Mapping[str, Any],
    *,
    config: CatalogConfig,
    location: _Location,
    cache_dir: Path,
    client: httpx.Client | None,
) -> ChartVersion:
    name = str(entry.get("name") or "")
    version = str(entry["version"])
    urls = entry.get("urls") or []
    if not urls:
        return _broken(config, name, version, entry, "its index entry has no urls")
    address = location.join(str(urls[0]))
    declared = str(entry.get("digest") or "").lower()
    folder = cache_dir / _UNSAFE.sub("_", config.id)
    stem = f"{_UNSAFE.sub('_', name)}-{_UNSAFE.sub('_', version)}"
    if _HEX64.match(declared):
        extracted = folder / f"{stem}-{declared[:16]}"
        if (extracted / _COMPLETE_MARKER).is_file():
            archive = _archive_beside(extracted, address)
            return read_chart_directory(_chart_root(extracted), catalog_id=config.id, metadata=entry, archive=archive)
    try:
        data = _fetch(address, client)
    except (OSError, httpx.HTTPError, CatalogError) as error:
        return _broken(config, name, version, entry, f"cannot download {address}: {_describe(error)}")
    digest = hashlib.sha256(data).hexdigest()
    if _HEX64.match(declared) and declared != digest:
        return _broken(config, name, version, entry, f"{address} does not match the digest of index.yaml")
    extracted = folder / f"{stem}-{digest[:16]}"
    if not (extracted / _COMPLETE_MARKER).is_file():
        try:
            _extract_atomically(data, extracted)
        except CatalogError as error:
            return _broken(config, name, version, entry, f"{address}: {error.message}")
    archive = _keep_archive(extracted, address, data)
    return read_chart_directory(_chart_root(extracted), catalog_id=config.id, metadata=entry, archive=archive)


def _extract_atomically(data: bytes, extracted: Path) -> None:
    extracted.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{extracted.name}.", dir=extracted.parent))
    try:
        root = extract_chart_archive(data, staging / "content")
        (staging / "root").write_text(str(root.relative_to(staging / "content")), encoding="utf-8")
        (staging / _COMPLETE_MARKER).write_text("", encoding="utf-8")
        try:
            staging.rename(extracted)
        except OSError:
            # another loader finished the same archive first: its copy is as good as ours
            if not (extracted / _COMPLETE_MARKER).is_file():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _chart_root(extracted: Path) -> Path:
    relative = (extracted / "root").read_text(encoding="utf-8").strip()
    return extracted / "content" / relative


def _archive_beside(extracted: Path, address: str) -> Path | None:
    parsed = urlparse(address)
    if parsed.scheme in ("http", "https"):
        candidate = extracted.with_suffix(".tgz")
        return candidate if candidate.is_file() else None
    return Path(unquote(parsed.path)) if parsed.scheme == "file" else Path(address)


def _keep_archive(extracted: Path, address: str, data: bytes) -> Path | None:
    """Local archives stay where they are; downloaded ones are kept beside their extraction."""
    if urlparse(address).scheme not in ("http", "https"):
        return _archive_beside(extracted, address)
    target = extracted.with_suffix(".tgz")
    if not target.is_file():
        partial = target.with_name(f".{target.name}.{os.getpid()}")
        partial.write_bytes(data)
        partial.replace(target)
    return target


def _broken(config: CatalogConfig, name: str, version: str, entry: Mapping[str, Any], problem: str) -> ChartVersion:
    return ChartVersion(catalog_id=config.id, name=name, version=version, metadata=entry, problems=(problem,))


# ---------------------------------------------------------------------------------------------------------
# whole catalogs


def load_catalog(
    config: CatalogConfig,
    *,
    cache_dir: Path,
    executor: Executor | None = None,
    http_timeout: float = DEFAULT_HTTP_TIMEOUT,
    clock: Callable[[], float] = time.time,
) -> Catalog:
    """Read one catalog: a Helm repository, or a folder of chart directories (see the module docstring).

    Chart archives are read concurrently on ``executor`` when one is given.

    Raises:
        CatalogError: the location is unreachable, or its ``index.yaml`` is missing or malformed. Problems of
            single chart versions do not raise: they are recorded on the versions and the catalog.
    """
    location = _Location.of(config.location)
    if location.path is not None and not (location.path / "index.yaml").is_file():
        if location.path.is_dir():
            return _load_folder_catalog(config, location.path, clock=clock)
        raise CatalogError(f"catalog {config.id!r}: {location.path} is neither a folder nor a Helm repository")
    client = _http_client(config, http_timeout) if location.url is not None else None
    try:
        index = _read_index(config, location, client)
        entries = index["entries"]
        selected = select_entries(entries, config)
        jobs = [(name, entry) for name, versions in selected.items() for entry in versions]

        def read(job: tuple[str, Mapping[str, Any]]) -> ChartVersion:
            name, entry = job
            entry = entry if entry.get("name") else {**entry, "name": name}
            return _cached_archive_version(entry, config=config, location=location, cache_dir=cache_dir, client=client)

        results = list(executor.map(read, jobs)) if executor is not None else [read(job) for job in jobs]
    finally:
        if client is not None:
            client.close()
    charts: dict[str, list[ChartVersion]] = {}
    problems: list[str] = []
    for (name, _), chart_version in zip(jobs, results, strict=True):
        charts.setdefault(name, []).append(chart_version)
        problems.extend(f"{name} {chart_version.version}: {p}" for p in chart_version.problems)
    header: dict[str, Any] = {k: index[k] for k in ("apiVersion", "generated") if k in index}
    return Catalog(
        config=config,
        charts={name: tuple(versions) for name, versions in charts.items()},
        index=header,
        last_update_time=int(clock() * 1000),
        problems=tuple(problems),
    )


def _read_index(config: CatalogConfig, location: _Location, client: httpx.Client | None) -> dict[str, Any]:
    address = (
        f"{location.url}/index.yaml" if location.url is not None else str((location.path or Path()) / "index.yaml")
    )
    try:
        data = _fetch(address, client)
    except (OSError, httpx.HTTPError, CatalogError) as error:
        raise CatalogError(f"catalog {config.id!r}: cannot read {address}: {_describe(error)}") from error
    try:
        index = load_yaml(data.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        problem = _yaml_problem(error) if isinstance(error, yaml.YAMLError) else str(error)
        raise CatalogError(f"catalog {config.id!r}: {address} is not valid YAML: {problem}") from error
    if not isinstance(index, dict) or not isinstance(index.get("entries"), Mapping):
        raise CatalogError(f"catalog {config.id!r}: {address} is not a Helm repository index (no 'entries' map)")
    bad = [name for name, versions in index["entries"].items() if not isinstance(versions, list)]
    if bad:
        raise CatalogError(
            f"catalog {config.id!r}: {address} is malformed: entries of {', '.join(map(str, bad))} are not lists"
        )
    return index


def _load_folder_catalog(config: CatalogConfig, folder: Path, *, clock: Callable[[], float]) -> Catalog:
    """A folder whose sub-folders are charts (one version each; several folders may hold one chart's versions)."""
    entries: dict[str, list[Mapping[str, Any]]] = {}
    directories: dict[tuple[str, str], Path] = {}
    problems: list[str] = []
    for child in sorted(folder.iterdir()):
        if child.name.startswith(".") or not (child / "Chart.yaml").is_file():
            continue
        found: list[str] = []
        chart_yaml = _read_yaml_mapping(child / "Chart.yaml", found)
        if chart_yaml is None or not chart_yaml.get("name") or chart_yaml.get("version") is None:
            problems.append(f"{child.name}: " + ("; ".join(found) or "Chart.yaml lacks a name or a version"))
            continue
        name, version = str(chart_yaml["name"]), str(chart_yaml["version"])
        if (name, version) in directories:
            problems.append(f"{child.name}: {name} {version} is also in {directories[(name, version)].name}")
            continue
        directories[(name, version)] = child
        entries.setdefault(name, []).append(chart_yaml)
    charts: dict[str, tuple[ChartVersion, ...]] = {}
    for name, kept in select_entries(entries, config).items():
        versions = tuple(
            read_chart_directory(directories[(name, str(meta["version"]))], catalog_id=config.id) for meta in kept
        )
        charts[name] = versions
        problems.extend(f"{name} {v.version}: {p}" for v in versions for p in v.problems)
    return Catalog(config=config, charts=charts, last_update_time=int(clock() * 1000), problems=tuple(problems))
