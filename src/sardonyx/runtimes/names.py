"""Validation of the names that reach a path or a command: service ids and project ids.

Rule: RFC 1123 DNS label, as Kubernetes applies it to namespaces and Helm to release names: lower-case
letters, digits and ``-``, starting and ending with a letter or a digit. A project is a namespace (at most 63
characters); a service id is a Helm release name (at most 53 characters, Helm's own limit). Such a name can
contain no ``/``, ``..``, space, quote or shell metacharacter, so it is safe in a path and as an argument.
"""

from __future__ import annotations

import re

from sardonyx.errors import InvalidName, Violation

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

SERVICE_ID_MAX = 53
"""Helm release names are limited to 53 characters."""
PROJECT_MAX = 63
"""RFC 1123 labels (Kubernetes namespaces) are limited to 63 characters."""


def name_violations(name: object, *, field: str, max_length: int) -> list[Violation]:
    """Every reason ``name`` is not an RFC 1123 label of at most ``max_length`` characters (empty when valid)."""
    if not isinstance(name, str):
        return [Violation(field, f"must be a string, got {type(name).__name__}")]
    problems: list[Violation] = []
    if not name:
        return [Violation(field, "must not be empty")]
    if len(name) > max_length:
        problems.append(Violation(field, f"must be at most {max_length} characters long (got {len(name)})"))
    if not _LABEL.match(name):
        problems.append(
            Violation(
                field,
                f"{name!r} is not a valid name: use lower-case letters, digits and '-', starting and ending "
                "with a letter or a digit (RFC 1123)",
            )
        )
    return problems


def validate_service_names(service_id: object, project: object) -> None:
    """Check a service id and its project together.

    Raises:
        InvalidName: with one violation per problem (fields ``id`` and ``project``).
    """
    problems = name_violations(service_id, field="id", max_length=SERVICE_ID_MAX)
    problems += name_violations(project, field="project", max_length=PROJECT_MAX)
    if problems:
        raise InvalidName("The service id or project is not a valid name.", violations=problems)
