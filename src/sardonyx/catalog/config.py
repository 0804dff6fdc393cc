"""Catalog configuration, exactly as onyxia-api reads it (``catalogs`` property, ``CatalogWrapper.java``).

A configuration file holds a list of catalogs, or ``{"catalogs": [...]}``, in JSON, JSON5 (comments, single
quotes, trailing commas: what Jackson accepts) or YAML. Unknown keys are ignored like Jackson does, so real
Onyxia files load unmodified. Keys and defaults: ONYXIA-REFERENCE section 3.1.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sardonyx.errors import SardonyxError, Violation

LocalizedString = str | dict[str, str]
"""A string, or a map language -> string (``{"en": ..., "fr": ...}``) as Onyxia's ``LocalizedString``."""

_CATALOG_ID = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$")


class CatalogConfigError(SardonyxError):
    """A catalog configuration file cannot be read or holds invalid catalogs (every problem listed)."""

    status = 500
    reason = "invalid-catalog-configuration"
    title = "Invalid catalog configuration"


class MultipleServicesMode(StrEnum):
    """Which versions of each chart a catalog keeps (``CatalogWrapper.MultipleServicesMode``)."""

    ALL = "all"
    LATEST = "latest"
    SKIP_PATCHES = "skipPatches"
    MAX_NUMBER = "maxNumber"


class CatalogStatus(StrEnum):
    """``PROD`` catalogs get a tab in the UI; ``TEST`` catalogs are reachable by their id only."""

    PROD = "PROD"
    TEST = "TEST"


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class UserAttributeRestriction(_Lenient):
    """``{"key": "<claim>", "matches": "<regex>"}``: the claim must fully match the regex.

    Onyxia reads only ``matches``; a restriction without it (e.g. the upstream test fixture's ``match``) can never
    be satisfied, so the catalog is hidden from everybody (fail closed).
    """

    key: str
    matches: str | None = None


class CatalogRestriction(_Lenient):
    """One entry of ``restrictions``: only user-attribute restrictions exist."""

    user_attribute: UserAttributeRestriction | None = Field(default=None, alias="userAttribute")


class CatalogVisibility(_Lenient):
    """In which kinds of project the UI shows the catalog."""

    user: bool = True
    project: bool = True


class CatalogConfig(_Lenient):
    """One catalog, with every key of onyxia-api's ``CatalogWrapper`` (ONYXIA-REFERENCE 3.1).

    ``location`` is a Helm repository URL (``http(s)://`` or ``file://``, serving ``index.yaml``) or a local
    folder: with an ``index.yaml`` it is a Helm repository, else each sub-folder holding a ``Chart.yaml`` is one
    chart version. ``username``/``password``/``restrictions`` are write-only: never serialised back.
    """

    id: str
    name: LocalizedString | None = None
    description: LocalizedString | None = None
    maintainer: str | None = None
    location: str
    status: CatalogStatus = CatalogStatus.PROD
    type: str = "helm"
    highlighted_charts: list[str] = Field(default_factory=list, alias="highlightedCharts")
    excluded_charts: list[str] = Field(default_factory=list, alias="excludedCharts")
    include_keywords: list[str] = Field(default_factory=list, alias="includeKeywords")
    exclude_keywords: list[str] = Field(default_factory=list, alias="excludeKeywords")
    include_annotations: dict[str, str] = Field(default_factory=dict, alias="includeAnnotations")
    exclude_annotations: dict[str, str] = Field(default_factory=dict, alias="excludeAnnotations")
    multiple_services_mode: MultipleServicesMode = Field(
        default=MultipleServicesMode.LATEST, alias="multipleServicesMode"
    )
    max_number_of_versions: int = Field(default=5, ge=1, alias="maxNumberOfVersions")
    skip_tls_verify: bool = Field(default=False, alias="skipTlsVerify")
    ca_file: str | None = Field(default=None, alias="caFile")
    timeout: str | None = None
    allow_sharing: bool = Field(default=True, alias="allowSharing")
    visible: CatalogVisibility = Field(default_factory=CatalogVisibility)
    restrictions: list[CatalogRestriction] = Field(default_factory=list)
    username: str | None = None
    password: str | None = None
    scm: Any = None

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        # the id is a helm repository alias and reaches helm commands: keep it to safe characters
        if not _CATALOG_ID.match(value):
            raise ValueError("must be letters, digits, '-', '_' or '.', starting and ending with a letter or digit")
        return value

    @field_validator("type")
    @classmethod
    def _check_type(cls, value: str) -> str:
        if value.lower() != "helm":
            raise ValueError(f"unsupported catalog type {value!r}: only 'helm' is supported")
        return "helm"

    @field_validator("multiple_services_mode", mode="before")
    @classmethod
    def _mode_any_case(cls, value: Any) -> Any:
        # Jackson maps the enum names too (LATEST, MAX_NUMBER, SKIP_PATCHES): accept both spellings
        if isinstance(value, str):
            folded = value.replace("_", "").lower()
            for mode in MultipleServicesMode:
                if mode.value.lower() == folded:
                    return mode
        return value

    @field_validator("status", mode="before")
    @classmethod
    def _status_upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("highlighted_charts", "excluded_charts", "include_keywords", "exclude_keywords", mode="before")
    @classmethod
    def _null_list(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("include_annotations", "exclude_annotations", mode="before")
    @classmethod
    def _null_map(cls, value: Any) -> Any:
        if value is None:
            return {}
        if isinstance(value, Mapping):
            return {str(k): str(v) for k, v in value.items()}
        return value

    @property
    def display_name(self) -> str:
        """English (or first) name, else the id."""
        return localized(self.name, "en") or self.id

    @property
    def is_url(self) -> bool:
        """True when ``location`` is an ``http(s)://`` URL (else a ``file://`` URL or a local path)."""
        return urlparse(self.location).scheme in ("http", "https")

    def public_dict(self) -> dict[str, Any]:
        """The configuration as onyxia-api serves it (camelCase; write-only keys left out)."""
        data = self.model_dump(by_alias=True, mode="json", exclude={"username", "password", "restrictions"})
        data["name"] = self.name if self.name is not None else self.id
        return data


def localized(value: LocalizedString | None, lang: str = "en") -> str | None:
    """The text of a ``LocalizedString`` in ``lang``, else English, else the first translation."""
    if value is None or isinstance(value, str):
        return value
    return value.get(lang) or value.get("en") or next(iter(value.values()), None)


def parse_catalog_configs(data: Any, *, source: str = "catalogs", base_dir: Path | None = None) -> list[CatalogConfig]:
    """Validate parsed configuration data: a list of catalogs or ``{"catalogs": [...]}``.

    Relative local ``location`` paths are made absolute against ``base_dir`` (the file's folder).

    Raises:
        CatalogConfigError: with one violation per invalid key of every catalog, and for duplicate ids.
    """
    if isinstance(data, Mapping) and "catalogs" in data:
        data = data["catalogs"]
    if data is None:
        return []
    if not isinstance(data, list):
        raise CatalogConfigError(
            f'{source}: expected a list of catalogs or {{"catalogs": [...]}}, got {type(data).__name__}'
        )
    configs: list[CatalogConfig] = []
    violations: list[Violation] = []
    for index, item in enumerate(data):
        where = f"catalogs[{index}]"
        try:
            config = CatalogConfig.model_validate(item)
        except ValidationError as error:
            for problem in error.errors():
                loc = ".".join(str(part) for part in problem["loc"])
                violations.append(Violation(f"{where}.{loc}" if loc else where, problem["msg"]))
            continue
        if base_dir is not None and not _has_scheme(config.location):
            location = Path(config.location).expanduser()
            if not location.is_absolute():
                config = config.model_copy(update={"location": str((base_dir / location).resolve())})
        configs.append(config)
    seen: set[str] = set()
    for config in configs:
        if config.id in seen:
            violations.append(Violation(f"catalogs[id={config.id}]", "duplicate catalog id"))
        seen.add(config.id)
    if violations:
        raise CatalogConfigError(f"{source}: invalid catalog configuration", violations=violations)
    return configs


def load_catalog_configs(path: Path) -> list[CatalogConfig]:
    """Read a catalog configuration file (JSON, JSON5 or YAML, chosen by content, not only by extension).

    Raises:
        CatalogConfigError: unreadable file, syntax error, or invalid catalogs (all listed).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CatalogConfigError(f"cannot read the catalog configuration {path}: {error.strerror}") from error
    data = parse_config_text(text, source=str(path))
    return parse_catalog_configs(data, source=str(path), base_dir=path.resolve().parent)


def parse_config_text(text: str, *, source: str) -> Any:
    """Parse JSON, then JSON5 (Jackson's lenient features), then YAML; the first that succeeds wins."""
    import json5

    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return json5.loads(text)
    except ValueError as json5_error:
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError:
            raise CatalogConfigError(f"{source}: neither JSON, JSON5 nor YAML ({json5_error})") from json5_error


def adhoc_catalog_config(location: str, *, catalog_id: str | None = None) -> CatalogConfig:
    """A catalog for a location given directly (``--catalog PATH|URL``): id from the location's last segment.

    Keeps the latest version of each chart, like an Onyxia catalog with default settings.

    Raises:
        CatalogConfigError: the location is empty.
    """
    if not location.strip():
        raise CatalogConfigError("empty catalog location")
    if not _has_scheme(location):
        location = str(Path(location).expanduser().resolve())
    if catalog_id is None:
        last = urlparse(location).path.rstrip("/").rsplit("/", 1)[-1] or "catalog"
        catalog_id = re.sub(r"[^A-Za-z0-9_.-]+", "-", last).strip("-_.") or "catalog"
    return CatalogConfig(id=catalog_id, location=location)


def _has_scheme(location: str) -> bool:
    scheme = urlparse(location).scheme
    # a Windows drive letter is not a scheme; we only know http, https and file
    return scheme in ("http", "https", "file")
