"""Settings of ``codif serve``: one pydantic-settings model, every field documented.

Sources, highest priority first: keyword arguments (the CLI options), environment variables with the prefix
``CODIF_SERVE_`` (``CODIF_SERVE_POLL_SECONDS=30``), then the defaults below. An empty variable means unset (the
default applies): a chart template renders an unset value as ``""``, and an empty ``CODIF_SERVE_AUTH_TOKEN`` must
not turn authentication on with an empty token. The MLflow server comes from MLflow's
own ``MLFLOW_TRACKING_URI`` (and ``MLFLOW_TRACKING_TOKEN`` / ``_USERNAME`` / ``_PASSWORD``), the S3 storage for
the business logs from the ``AWS_*`` variables the platform injects into every service (see
:mod:`codif.serve.business_log`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class ServeSettings(BaseSettings):
    """Every setting of the model API, with its default and help text."""

    model_config = SettingsConfigDict(
        env_prefix="CODIF_SERVE_",
        extra="forbid",
        validate_default=True,
        # `CODIF_SERVE_LOGS_BUCKET=""` (what a template renders for an unset value) is the default, not ""
        env_ignore_empty=True,
    )

    host: str = Field(default="127.0.0.1", description="Address the API binds to (loopback by default).")
    port: int = Field(default=8000, ge=1, le=65535, description="TCP port the API listens on.")
    model_name: str = Field(
        default="codif", min_length=1, description="Registered model name in the MLflow model registry."
    )
    model_alias: str = Field(
        default="champion",
        min_length=1,
        description="Registry alias served; the API follows it when it moves (see poll_seconds).",
    )
    model_uri: str | None = Field(
        default=None,
        description="Model to serve: `models:/<name>@<alias>` (followed when the alias moves), "
        "`models:/<name>/<version>` (fixed) or a local MLflow model directory. Default: "
        "`models:/<model_name>@<model_alias>`.",
    )
    poll_seconds: float = Field(
        default=60.0,
        description="Interval between two checks of the registry alias, in seconds; 0 or less turns polling "
        "off (POST /admin/reload still works).",
    )
    auth_token: str | None = Field(
        default=None,
        description="When set, /predict and /admin require `Authorization: Bearer <token>` (or HTTP basic "
        "when auth_username is also set: either is accepted). /health and the docs stay open.",
    )
    auth_username: str | None = Field(
        default=None, description="HTTP basic user name; requires auth_password. Unset: no basic authentication."
    )
    auth_password: str | None = Field(default=None, description="HTTP basic password of auth_username.")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins allowed by CORS, comma-separated (`*` for any); empty: no CORS headers.",
    )
    access_log: bool = Field(
        default=False,
        description="Write uvicorn's access log line per request (off: the business logs already record "
        "every prediction, and the access log costs latency).",
    )
    logs_dir: Path = Field(
        default=Path("business-logs"),
        description="Directory of the business log files: the open file and closed files waiting for upload.",
    )
    logs_rotate_seconds: float = Field(
        default=300.0, gt=0, description="A business log file is closed (and uploaded) at the latest this old."
    )
    logs_rotate_bytes: int = Field(
        default=16 * 1024 * 1024, gt=0, description="A business log file is closed when it reaches this size."
    )
    logs_bucket: str | None = Field(
        default=None,
        description="S3 bucket receiving closed business log files. Default: the project bucket the platform "
        "gives the service (first segment of AWS_WORKING_DIRECTORY_PATH, else AWS_BUCKET_NAME); none: the files "
        "stay on disk.",
    )
    logs_prefix: str = Field(
        default="codif/logs",
        description="Key prefix of the business logs in the bucket; files land under "
        "`<prefix>/date=YYYY-MM-DD/` (hive partitioning read by the monitoring).",
    )
    logs_retry_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Delay before retrying a failed upload, doubled after each failure up to 10 times this.",
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @model_validator(mode="after")
    def _check_basic_auth(self) -> ServeSettings:
        if (self.auth_username is None) != (self.auth_password is None):
            raise ValueError("auth_username and auth_password go together: set both or neither")
        return self

    @property
    def resolved_model_uri(self) -> str:
        """``model_uri`` when set, else ``models:/<model_name>@<model_alias>``."""
        return self.model_uri or f"models:/{self.model_name}@{self.model_alias}"

    @property
    def auth_enabled(self) -> bool:
        return self.auth_token is not None or self.auth_username is not None
