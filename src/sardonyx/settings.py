"""The platform's settings: one pydantic-settings model, every field documented.

Sources, highest priority first: keyword arguments, environment variables (prefix ``SARDONYX_``, nested
fields with ``__``), the YAML file named by ``SARDONYX_CONFIG`` (or ``<data_dir>/sardonyx.yaml`` when it
exists), then the defaults below. ``sardonyx settings`` prints this table; a unit test fails when a field
has no description.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
"""Root of a source checkout (``src/sardonyx/settings.py`` -> repository); meaningless in a wheel install."""


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/sardonyx``, else ``~/.local/share/sardonyx``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "sardonyx"


def builtin_catalog_dir() -> Path:
    """The built-in catalog: ``catalogs/builtin`` in a checkout, ``sardonyx/_builtin_catalog`` in a wheel."""
    checkout = REPO_ROOT / "catalogs" / "builtin"
    if checkout.is_dir():
        return checkout
    return Path(__file__).resolve().parent / "_builtin_catalog"


def _config_file() -> Path | None:
    explicit = os.environ.get("SARDONYX_CONFIG")
    if explicit:
        return Path(explicit)
    data_dir = os.environ.get("SARDONYX_DATA_DIR")
    candidate = (Path(data_dir) if data_dir else default_data_dir()) / "sardonyx.yaml"
    return candidate if candidate.is_file() else None


class SeaweedFSPorts(BaseModel):
    """Every TCP port the embedded SeaweedFS (`weed mini`) opens, all bound to 127.0.0.1.

    `weed mini` opens ten ports; left to its defaults it takes 8888 (filer, which collides with Jupyter), 9333,
    8333 and derived gRPC ports (MEASURED.md, SeaweedFS). Each one is named here so that none is left to chance.
    """

    model_config = ConfigDict(extra="forbid")

    s3: int = Field(default=8430, ge=1, le=65535, description="S3 API port (the endpoint handed to services).")
    s3_grpc: int = Field(default=8431, ge=1, le=65535, description="S3 gateway gRPC port.")
    master: int = Field(default=8432, ge=1, le=65535, description="SeaweedFS master HTTP port.")
    master_grpc: int = Field(default=8433, ge=1, le=65535, description="SeaweedFS master gRPC port.")
    volume: int = Field(default=8434, ge=1, le=65535, description="SeaweedFS volume server HTTP port.")
    volume_grpc: int = Field(default=8435, ge=1, le=65535, description="SeaweedFS volume server gRPC port.")
    filer: int = Field(default=8436, ge=1, le=65535, description="SeaweedFS filer HTTP port (8888 by default).")
    filer_grpc: int = Field(default=8437, ge=1, le=65535, description="SeaweedFS filer gRPC port.")
    admin: int = Field(default=8438, ge=1, le=65535, description="SeaweedFS admin server port (UI disabled).")
    admin_grpc: int = Field(default=8439, ge=1, le=65535, description="SeaweedFS admin server gRPC port.")

    def all(self) -> dict[str, int]:
        """Port by name, in field order."""
        return {name: int(getattr(self, name)) for name in type(self).model_fields}


class S3Settings(BaseModel):
    """The region's object storage: the embedded SeaweedFS by default, or any S3 endpoint.

    Onyxia describes a region's S3 in `data.S3` (`URL`, `pathStyleAccess`, `region`); these fields are that,
    plus what the platform needs to run and administer it.
    """

    model_config = ConfigDict(extra="forbid")

    embedded: bool = Field(
        default=True,
        description="Start and stop the embedded SeaweedFS (`weed mini`) with the platform; False uses "
        "`endpoint` with the admin keys below.",
    )
    endpoint: str | None = Field(
        default=None,
        description="URL of an external S3 endpoint (when `embedded` is False), e.g. `https://minio.example.org`.",
    )
    admin_access_key_id: str | None = Field(
        default=None,
        description="Admin access key of an external S3 (creates buckets and per-project identities through "
        "its IAM API); the embedded server generates its own.",
    )
    admin_secret_access_key: str | None = Field(
        default=None, description="Admin secret key matching `admin_access_key_id` (external S3 only)."
    )
    region: str = Field(default="us-east-1", description="S3 region name handed to services (`AWS_DEFAULT_REGION`).")
    path_style_access: bool = Field(
        default=True, description="Path-style bucket addressing (`http://host/bucket/key`), as SeaweedFS and MinIO."
    )
    ports: SeaweedFSPorts = Field(
        default_factory=SeaweedFSPorts,
        description="Ports of the embedded SeaweedFS; every one is bound to 127.0.0.1.",
    )
    start_timeout_seconds: float = Field(
        default=30.0, gt=0, description="How long to wait for the embedded S3 server to answer, in seconds."
    )
    supervise_interval_seconds: float = Field(
        default=2.0,
        gt=0,
        description="Interval at which the platform checks that the embedded S3 server still runs, in seconds; "
        "when it died, it is restarted (logged, and reported by `sardonyx status` and `/public/healthcheck`).",
    )
    max_restarts: int = Field(
        default=5,
        ge=0,
        description="Restarts of the embedded S3 server allowed within `restart_window_seconds`; one more "
        "crash and the platform stops restarting it and reports it failed.",
    )
    restart_window_seconds: float = Field(
        default=600.0, gt=0, description="The sliding window over which `max_restarts` counts, in seconds."
    )
    restart_backoff_seconds: float = Field(
        default=1.0,
        ge=0,
        description="Delay before the second restart within the window, in seconds; it doubles with each "
        "further restart, up to 60 s (the first restart is immediate).",
    )


class ExposeSettings(BaseModel):
    """How services are reached, as Onyxia's `services.expose` (locally: loopback URLs, no ingress)."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(
        default="127.0.0.1",
        description="Host name in the URLs of local services (they bind to 127.0.0.1 on free ports).",
    )
    domain: str = Field(
        default="localhost",
        description="Onyxia's `expose.domain` (`k8s.domain` in the launch context); on the local runtime only "
        "charts that build host names read it.",
    )


class RegionSettings(BaseModel):
    """One region, as Onyxia's region configuration: where services run, their S3, how they are exposed."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(default="local", description="Region id (Onyxia `ONYXIA-REGION`).")
    name: str = Field(default="This machine", description="Region display name.")
    description: str = Field(
        default="Services run as processes on this machine, with the embedded S3 server.",
        description="Region description shown by clients.",
    )
    runtime: Literal["local", "fake"] = Field(
        default="local",
        description="Runtime kind: `local` runs supervised processes on this machine; `fake` (tests and "
        "benchmarks) pretends, instantly.",
    )
    namespace_prefix: str = Field(
        default="user-", description="Prefix of personal projects (Onyxia `services.namespacePrefix`)."
    )
    group_namespace_prefix: str = Field(
        default="projet-", description="Prefix of group projects (Onyxia `services.groupNamespacePrefix`)."
    )
    expose: ExposeSettings = Field(default_factory=ExposeSettings, description="How services are exposed.")


class AuthSettings(BaseModel):
    """How requests are authenticated (``sardonyx.auth``)."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["token"] = Field(
        default="token",
        description="`token`: the single local user; the API takes the token of `<data_dir>/api-token` (created at "
        "the first start, mode 0600) as `Authorization: Bearer`, the web UI a session from a one-time login link "
        "printed by `sardonyx up` and `sardonyx open`.",
    )
    session_max_age_seconds: int = Field(
        default=14 * 86400, ge=60, description="Lifetime of a web UI session cookie, in seconds."
    )
    login_link_seconds: float = Field(
        default=600.0, gt=0, description="How long a one-time login link stays valid, in seconds."
    )


class Settings(BaseSettings):
    """Every setting of the platform, with its default and help text."""

    model_config = SettingsConfigDict(
        env_prefix="SARDONYX_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Directory holding all the platform's state: database, S3 data, services' working "
        "directories and logs.",
    )
    host: str = Field(
        default="127.0.0.1",
        description="Address the API server binds to. Loopback by default: the platform is single-user "
        "on this machine.",
    )
    port: int = Field(default=8420, ge=1, le=65535, description="TCP port of the API server and web UI.")
    public_hosts: list[str] = Field(
        default_factory=list,
        description="Host names (`name` or `name:port`) the platform answers to beyond 127.0.0.1, localhost and "
        "[::1] with its port, e.g. behind a reverse proxy; any other `Host` header is refused (421). "
        "As a variable: JSON, `SARDONYX_PUBLIC_HOSTS='[\"sardonyx.example.org\"]'`.",
    )
    token: str | None = Field(
        default=None,
        description="The API token the CLI and `PlatformClient` send; default: read from `<data_dir>/api-token`.",
    )
    auth: AuthSettings = Field(default_factory=AuthSettings, description="Authentication of requests.")
    catalogs_file: Path | None = Field(
        default=None,
        description="Onyxia-style catalog configuration (JSON, JSON5 or YAML: a list of catalogs, or "
        '{"catalogs": [...]}) loaded in addition to the built-in catalog.',
    )
    builtin_catalog: bool = Field(
        default=True, description="Load the built-in catalog (id `builtin`) shipped with the platform."
    )
    catalog_refresh_seconds: float = Field(
        default=300.0,
        description="Interval between two re-reads of every catalog, in seconds; 0 or less reads them once.",
    )
    catalog_cache_dir: Path | None = Field(
        default=None,
        description="Where chart archives of catalogs are downloaded and extracted (one folder per chart version, "
        "reused while its digest is unchanged); default `<data_dir>/cache/catalogs`.",
    )
    environments_dir: Path | None = Field(
        default=None,
        description="Cache of the Python environments the local runtime builds with uv for the charts' recipes "
        "(content-addressed: reused by every launch asking for the same interpreter and requirements); default "
        "`$XDG_CACHE_HOME/sardonyx/envs`, else `~/.cache/sardonyx/envs`, shared by every data directory.",
    )
    schemas_dir: Path | None = Field(
        default=None,
        description="Registry of admin JSON schemas targeted by `x-onyxia.overwriteSchemaWith` and `$ref` "
        "(relative paths such as `ide/resources.json`), like onyxia-api's external schema directory.",
    )
    role_schemas_dir: Path | None = Field(
        default=None,
        description="Per-role overlays of the schema registry: `<dir>/<role>/<relative path>`; the first "
        "role of the user that has the file wins.",
    )

    login: str | None = Field(
        default=None,
        description="Login name of the single local user (Onyxia `idep`); defaults to the operating system's "
        "login name, lower-cased; the personal project is `user-<login>`.",
    )
    region: RegionSettings = Field(
        default_factory=RegionSettings,
        description="The region: runtime kind, project prefixes, exposure (Onyxia's region configuration).",
    )
    s3: S3Settings = Field(default_factory=S3Settings, description="Object storage of the region (S3).")
    startup_timeout_seconds: float = Field(
        default=60.0, gt=0, description="How long `sardonyx up` waits for the platform to be ready, in seconds."
    )
    service_log_max_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=64 * 1024,
        description="A local service's log (`<service dir>/.sardonyx/service.log`) is rotated past this size, in "
        "bytes (copied to `service.log.1`, then emptied in place: the service keeps writing).",
    )
    service_log_backups: int = Field(
        default=3,
        ge=1,
        le=20,
        description="How many rotated logs each service keeps (`service.log.1`, newest, to `.N`); "
        "`sardonyx logs` reads them too.",
    )
    status_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        description="Interval at which the platform re-reads the status of services that are changing "
        "(starting, stopping, ...) to record their transitions and publish events, in seconds.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Log level of the platform process (written to `<data_dir>/platform.log`)."
    )

    @property
    def api_url(self) -> str:
        """``http://<host>:<port>``: where the API and web UI answer."""
        return f"http://{self.host}:{self.port}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = _config_file()
        if config_file is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        return tuple(sources)


def settings_table() -> list[dict[str, Any]]:
    """One row per setting, nested models flattened (``s3.ports.filer``): name, environment variable
    (``SARDONYX_S3__PORTS__FILER``), default, description (for docs and ``--help``)."""
    rows: list[dict[str, Any]] = []
    _table_rows(Settings, "", rows)
    return rows


def _table_rows(model: type[BaseModel], prefix: str, rows: list[dict[str, Any]]) -> None:
    for name, info in model.model_fields.items():
        default: Any = info.default_factory() if info.default_factory else info.default  # type: ignore[call-arg]
        dotted = f"{prefix}{name}"
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            _table_rows(annotation, f"{dotted}.", rows)
            continue
        rows.append(
            {
                "name": dotted,
                "env": "SARDONYX_" + dotted.upper().replace(".", "__"),
                "default": default,
                "description": info.description or "",
            }
        )


def settings_error_lines(error: Exception) -> list[str]:
    """One line per invalid setting of a failed ``Settings()``: the setting, its variable, the value given and
    what is allowed, e.g. ``port (SARDONYX_PORT) = 'abc': Input should be a valid integer``.

    ``error`` is the ``pydantic.ValidationError`` of ``Settings`` or a ``pydantic_settings.SettingsError`` (a
    variable that is not valid JSON for a list or a block).
    """
    from pydantic import ValidationError

    if not isinstance(error, ValidationError):
        import re

        field = re.search(r"field [\"']([^\"']+)[\"']", str(error))
        if field is None:
            return [str(error)]
        name = field.group(1)
        variable = "SARDONYX_" + name.upper().replace(".", "__")
        shown = repr(os.environ.get(variable, "")) if variable in os.environ else "the value given"
        return [f"{name} ({variable}) = {shown}: not valid JSON; this setting takes a JSON list or object, e.g. "
                f"{variable}='[\"value\"]'"]  # fmt: skip
    lines = []
    for problem in error.errors():
        location = [str(part) for part in problem.get("loc", ()) if not str(part).isdigit()]
        name = ".".join(location) or "(settings)"
        variable = "SARDONYX_" + "__".join(part.upper() for part in location)
        given = problem.get("input")
        shown = repr(given) if not isinstance(given, dict) else "a block"
        if len(shown) > 80:
            shown = shown[:77] + "..."
        reason = str(problem.get("msg", "invalid"))
        if problem.get("type") == "extra_forbidden":
            reason = "there is no such setting (`sardonyx settings` lists them)"
        lines.append(f"{name} ({variable}) = {shown}: {reason}")
    return lines


def is_settings_error(error: BaseException) -> bool:
    """True for the errors of ``Settings()`` that ``settings_error_lines`` describes."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    if isinstance(error, SettingsError):
        return True
    return isinstance(error, ValidationError) and error.title in {Settings.__name__, *_block_names()}


def _block_names() -> set[str]:
    return {"S3Settings", "SeaweedFSPorts", "RegionSettings", "ExposeSettings", "AuthSettings"}
