"""Equivalent commands of a launch (the launcher's command bar) and the name rules guarding every command.

As Onyxia's command bar shows them (``launcher/selectors.ts#launchCommands``, ONYXIA-REFERENCE 4.2)::

    helm repo add <catalogId> <repository URL>
    cat << 'EOF' > ./values.yaml
    <values>
    EOF
    helm install <release> <catalogId>/<chart> [--namespace <ns>] [--version <v>] -f values.yaml

``--namespace`` appears for group projects only and ``--version`` only when it is not the default version (the
caller decides by passing them or None). One deliberate difference: the here-document delimiter is quoted, so
that a ``$`` in a value (a password) reaches the file unchanged when the lines are pasted into a shell. A catalog
that is a local folder has no repository to add: the chart is installed from its folder.

Every name is validated before it reaches a command (RFC 1123, like onyxia-api); commands are built as argument
lists, and the display lines are those lists quoted with ``shlex.join``.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlparse

import yaml

from sardonyx.catalog.config import CatalogConfig
from sardonyx.catalog.jsonvalues import ValuesPath, compact_json, format_path
from sardonyx.catalog.model import ChartVersion
from sardonyx.catalog.versions import is_strict_semver
from sardonyx.errors import InvalidName
from sardonyx.masking import MASK, is_secret_key, mask_values

RELEASE_NAME: Final = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
"""onyxia-api's release name rule (RFC 1123 subdomain), at most 53 characters."""
RFC1123_LABEL: Final = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
"""RFC 1123 label (namespaces, project ids), at most 63 characters."""
CHART_NAME: Final = re.compile(r"^[a-z0-9]([-a-z0-9._]*[a-z0-9])?$")
"""Helm chart names: lower-case letters, digits, ``-`` (and ``.``/``_`` that some repositories use)."""
CATALOG_ID: Final = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$")
MAX_RELEASE_LENGTH: Final = 53
MAX_LABEL_LENGTH: Final = 63


def validate_release_name(name: str) -> str:
    """Return ``name`` if it is a valid Helm release name, else raise ``InvalidName`` saying why."""
    if len(name) > MAX_RELEASE_LENGTH:
        raise InvalidName(f"release name {name!r} is longer than {MAX_RELEASE_LENGTH} characters")
    if not RELEASE_NAME.match(name):
        raise InvalidName(
            f"release name {name!r} must be lower-case letters, digits and '-', starting and ending with a "
            "letter or digit (RFC 1123)"
        )
    return name


def validate_label(name: str, *, what: str = "namespace") -> str:
    """Return ``name`` if it is an RFC 1123 label (namespaces, project ids), else raise ``InvalidName``."""
    if len(name) > MAX_LABEL_LENGTH:
        raise InvalidName(f"{what} {name!r} is longer than {MAX_LABEL_LENGTH} characters")
    if not RFC1123_LABEL.match(name):
        raise InvalidName(
            f"{what} {name!r} must be lower-case letters, digits and '-', starting and ending with a letter or "
            "digit (RFC 1123)"
        )
    return name


def validate_chart_name(name: str) -> str:
    if not CHART_NAME.match(name) or len(name) > MAX_LABEL_LENGTH:
        raise InvalidName(f"chart name {name!r} must be lower-case letters, digits and '-'")
    return name


def validate_catalog_id(catalog_id: str) -> str:
    if not CATALOG_ID.match(catalog_id):
        raise InvalidName(f"catalog id {catalog_id!r} must be letters, digits, '-', '_' or '.'")
    return catalog_id


def validate_chart_version(version: str) -> str:
    if not is_strict_semver(version):
        raise InvalidName(f"chart version {version!r} is not a SemVer 2 version")
    return version


def validate_repository_url(url: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or re.search(r"\s", url):
        raise InvalidName(f"repository URL {url!r} must be an http(s) URL without spaces")
    return url


def default_release_name(chart: str, random_subdomain: str) -> str:
    """The launcher's release name, ``<chart>-<k8s.randomSubdomain>`` (``launcher/selectors.ts``), validated."""
    return validate_release_name(f"{chart}-{random_subdomain}")


def helm_repo_add_args(catalog_id: str, url: str) -> list[str]:
    """``helm repo add <catalogId> <url>`` as an argument list (names validated)."""
    return ["helm", "repo", "add", validate_catalog_id(catalog_id), validate_repository_url(url)]


def helm_install_args(
    release: str,
    chart_ref: str,
    *,
    namespace: str | None = None,
    version: str | None = None,
    values_file: str = "values.yaml",
) -> list[str]:
    """``helm install <release> <chart_ref> [--namespace ns] [--version v] -f <values_file>`` (names validated;
    ``chart_ref`` is ``<catalogId>/<chart>`` or a local chart folder or archive)."""
    args = ["helm", "install", validate_release_name(release), chart_ref]
    if namespace is not None:
        args += ["--namespace", validate_label(namespace)]
    if version is not None:
        args += ["--version", validate_chart_version(version)]
    return [*args, "-f", values_file]


def values_yaml(values: Mapping[str, Any]) -> str:
    """Values as YAML, keys in their order (what ``-f values.yaml`` holds)."""
    return yaml.safe_dump(dict(values), sort_keys=False, allow_unicode=True, default_flow_style=False)


def _heredoc_delimiter(text: str) -> str:
    delimiter = "EOF"
    lines = set(text.splitlines())
    while delimiter in lines:
        delimiter += "_"
    return delimiter


def helm_commands(
    config: CatalogConfig,
    chart: ChartVersion,
    *,
    release: str,
    values: Mapping[str, Any],
    namespace: str | None = None,
    version: str | None = None,
    reveal: bool = False,
) -> list[str]:
    """The command bar's lines for a launch (see the module docstring); one string per command.

    Pass ``namespace`` for a group project only and ``version`` only when it is not the default version, as
    Onyxia shows them. A folder catalog installs from the chart's folder (no ``helm repo add``, no version).
    Secrets of the values are masked (``sardonyx.masking``) unless ``reveal``.

    Raises:
        InvalidName: an invalid release, namespace, catalog id, chart name, version or repository URL.
    """
    validate_chart_name(chart.name)
    lines: list[str] = []
    if config.is_url:
        lines.append(shlex.join(helm_repo_add_args(config.id, config.location.rstrip("/"))))
        chart_ref = f"{validate_catalog_id(config.id)}/{chart.name}"
    else:
        local = chart.archive or chart.directory or Path(config.location) / chart.name
        chart_ref = str(local)
        version = None
    text = values_yaml(values if reveal else mask_values(values))
    delimiter = _heredoc_delimiter(text)
    lines.append(f"cat << '{delimiter}' > ./values.yaml\n{text}{delimiter}")
    lines.append(shlex.join(helm_install_args(release, chart_ref, namespace=namespace, version=version)))
    return lines


def set_option_text(value: Any) -> str:
    """A value written for ``--set`` so that the schema types it back to the same value: strings as they
    are, everything else as JSON (``true``, ``42``, ``null``, ``["a"]``, ``{"k": "v"}``)."""
    return value if isinstance(value, str) else compact_json(value)


def sardonyx_launch_command(
    chart: str,
    changes: Sequence[tuple[ValuesPath, Any]],
    *,
    catalog_id: str | None = None,
    version: str | None = None,
    name: str | None = None,
    reveal: bool = False,
) -> str:
    """``sardonyx launch CHART [--catalog ID] [--version V] [--name N] [--set path=value]...`` for the user's
    changes (``ComputedValues.changes()``), shell-quoted; a secret's value is masked unless ``reveal``.

    Raises:
        InvalidName: invalid chart name, catalog id or version.
    """
    args = ["sardonyx", "launch", validate_chart_name(chart)]
    if catalog_id is not None:
        args += ["--catalog", validate_catalog_id(catalog_id)]
    if version is not None:
        args += ["--version", validate_chart_version(version)]
    if name is not None:
        args += ["--name", name]
    for path, value in changes:
        secret = not reveal and isinstance(value, str) and bool(value) and is_secret_key(str(path[-1]) if path else "")
        args += ["--set", f"{format_path(path)}={MASK if secret else set_option_text(value)}"]
    return shlex.join(args)
