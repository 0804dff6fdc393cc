"""The environment a service's processes get: Onyxia's library-chart variables computed from the values,
plus a short allow-list of the platform's own environment.

Source: the library chart's secrets (``ONYXIA-REFERENCE.md`` 5.2): ``secret-s3`` (``AWS_*``, ``S3_ENDPOINT``),
``secret-token`` (``PASSWORD``), ``secret-git`` (``GIT_*``), ``secret-vault`` (``VAULT_*``),
``secret-extraenv`` (``extraEnvVars``). Differences: the library chart always writes ``https://<endpoint>``;
here see ``s3_endpoint`` (plain HTTP on loopback, ``s3.port`` honoured); and ``s3.bucket`` (the project's
bucket, from the launch context's ``s3.AWS_BUCKET_NAME``) becomes ``AWS_BUCKET_NAME``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from sardonyx.errors import BadRequest, Violation
from sardonyx.runtimes.local.recipe import ENV_NAME

PASSED_THROUGH = frozenset(
    {
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TMPDIR",
        "TERM",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "PIP_INDEX_URL",
        "PIP_EXTRA_INDEX_URL",
        "UV_INDEX_URL",
        "UV_EXTRA_INDEX_URL",
        "UV_CACHE_DIR",
        "XDG_CACHE_HOME",
        "XDG_CONFIG_HOME",
        "XDG_DATA_HOME",
    }
)
"""Variables of the platform's environment passed on to services (plus ``LC_*``); nothing else leaks, in
particular no ``AWS_*`` and no ``SARDONYX_*`` setting."""


def base_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The allow-listed part of ``environ`` (default ``os.environ``); ``PATH`` is handled by the caller."""
    source = os.environ if environ is None else environ
    return {k: v for k, v in source.items() if k in PASSED_THROUGH or k.startswith("LC_")}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _section(values: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    section = values.get(name)
    if not isinstance(section, Mapping):
        return {}
    enabled = section.get("enabled", True)
    return section if enabled is not False else {}


_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def _is_loopback(host: str) -> bool:
    return host in _LOOPBACK_HOSTS or host.startswith("127.")


def s3_endpoint(endpoint: str, port: Any = None) -> tuple[str, str]:
    """``(host[:port], full URL)`` for an ``s3.endpoint`` value and an optional ``s3.port``.

    A scheme in ``endpoint`` is kept. Without one, https is assumed as the library chart does, except on a
    loopback host (``127.0.0.0/8``, ``localhost``, ``::1``), where an S3 server is a local plain-HTTP one
    (the embedded SeaweedFS) and TLS would never work. ``port`` is appended when ``endpoint`` has none and it
    is not the scheme's default.
    """
    text = endpoint.strip().rstrip("/")
    if "://" in text:
        parts = urlsplit(text)
        scheme, netloc = parts.scheme, parts.netloc
    else:
        netloc = text
        host = urlsplit(f"//{text}").hostname or text
        scheme = "http" if _is_loopback(host) else "https"
    has_port = urlsplit(f"//{netloc}").port is not None
    if not has_port and port not in (None, ""):
        number = int(port)
        if number != {"http": 80, "https": 443}.get(scheme):
            netloc = f"{netloc}:{number}"
    return netloc, f"{scheme}://{netloc}"


def _put(env: dict[str, str], name: str, value: Any) -> None:
    text = _text(value)
    if text != "":
        env[name] = text


def _s3_env(s3: Mapping[str, Any], env: dict[str, str]) -> None:
    _put(env, "AWS_ACCESS_KEY_ID", s3.get("accessKeyId"))
    _put(env, "AWS_SECRET_ACCESS_KEY", s3.get("secretAccessKey"))
    _put(env, "AWS_SESSION_TOKEN", s3.get("sessionToken"))
    _put(env, "AWS_DEFAULT_REGION", s3.get("defaultRegion") or "us-east-1")
    endpoint = _text(s3.get("endpoint"))
    if endpoint:
        host, url = s3_endpoint(endpoint, s3.get("port"))
        _put(env, "AWS_S3_ENDPOINT", host)
        _put(env, "AWS_ENDPOINT_URL", url)
        _put(env, "S3_ENDPOINT", url)
        # s3fs (fsspec) also reads its own variable; boto3, aiobotocore and pyarrow read AWS_ENDPOINT_URL
        _put(env, "FSSPEC_S3_ENDPOINT_URL", url)
    if "pathStyleAccess" in s3:
        _put(env, "AWS_PATH_STYLE_ACCESS", bool(s3.get("pathStyleAccess")))
    _put(env, "AWS_WORKING_DIRECTORY_PATH", s3.get("workingDirectoryPath"))
    # not in the library chart: the project's bucket, which jobs need to know where to write
    _put(env, "AWS_BUCKET_NAME", s3.get("bucket"))


def _git_env(git: Mapping[str, Any], env: dict[str, str]) -> None:
    _put(env, "GIT_USER_NAME", git.get("name"))
    _put(env, "GIT_USER_MAIL", git.get("email"))
    _put(env, "GIT_CREDENTIALS_CACHE_DURATION", git.get("cache"))
    _put(env, "GIT_PERSONAL_ACCESS_TOKEN", git.get("token"))
    _put(env, "GIT_REPOSITORY", git.get("repository"))
    _put(env, "GIT_BRANCH", git.get("branch"))
    # there is no init script locally to run `git config`: git itself honours these
    for role in ("AUTHOR", "COMMITTER"):
        _put(env, f"GIT_{role}_NAME", git.get("name"))
        _put(env, f"GIT_{role}_EMAIL", git.get("email"))


def _vault_env(vault: Mapping[str, Any], env: dict[str, str]) -> None:
    _put(env, "VAULT_ADDR", vault.get("url"))
    _put(env, "VAULT_TOKEN", vault.get("token"))
    _put(env, "VAULT_MOUNT", vault.get("mount"))
    _put(env, "VAULT_TOP_DIR", vault.get("directory"))
    _put(env, "VAULT_RELATIVE_PATH", vault.get("secret"))


def library_env(values: Mapping[str, Any]) -> dict[str, str]:
    """The environment variables Onyxia's library chart derives from these values (``extraEnvVars`` apart:
    see ``extra_env``).

    Empty values are left out (an empty ``AWS_SESSION_TOKEN`` confuses some clients). A disabled block
    (``s3.enabled: false``...) contributes nothing.

    Returns:
        Variable name -> value.
    """
    env: dict[str, str] = {}
    s3 = _section(values, "s3")
    if s3:
        _s3_env(s3, env)
    security = values.get("security")
    if isinstance(security, Mapping):
        _put(env, "PASSWORD", security.get("password"))
    git = _section(values, "git")
    if git:
        _git_env(git, env)
    vault = _section(values, "vault")
    if vault:
        _vault_env(vault, env)
    return env


def extra_env(values: Mapping[str, Any]) -> dict[str, str]:
    """The user's ``extraEnvVars`` (``[{name, value}]``) as a mapping; applied last, so they win.

    Raises:
        BadRequest: an entry has an invalid name (every violation listed).
    """
    env: dict[str, str] = {}
    extra = values.get("extraEnvVars") or []
    problems: list[Violation] = []
    if isinstance(extra, list):
        for index, item in enumerate(extra):
            name = item.get("name") if isinstance(item, Mapping) else None
            if not isinstance(name, str) or not ENV_NAME.match(name):
                problems.append(Violation(f"extraEnvVars[{index}].name", f"{name!r} is not a variable name"))
                continue
            env[name] = _text(item.get("value"))
    if problems:
        raise BadRequest("Some extra environment variables are invalid.", violations=problems)
    return env
