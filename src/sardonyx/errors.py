"""One error hierarchy for the whole platform.

Every error carries an HTTP status and a machine-readable ``reason``; the REST API renders them as RFC 7807
problem details, the CLI prints ``message`` (and ``details`` when present) without a traceback. Policy errors
(bad input, unknown names) are expected: they are logged in one line. Anything that is not a
``SardonyxError`` is a bug and is logged with its traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class Violation:
    """One problem found in user input.

    ``path`` is a dotted values path (``service.image.version``, ``resources.limits[0]``), or a field name for
    non-values input; empty for the whole document. ``reason`` is a sentence a user can act on.
    """

    path: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}


class SardonyxError(Exception):
    """Base of every expected error.

    Attributes:
        status: HTTP status used by the REST API (RFC 7807 ``status``).
        reason: machine-readable kebab-case code (RFC 7807 ``type`` suffix), stable across versions.
        message: one human sentence (RFC 7807 ``detail``).
        violations: for input errors, every problem at once.
    """

    status: ClassVar[int] = 500
    reason: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal error"

    def __init__(self, message: str, *, violations: Sequence[Violation] = (), **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.violations: list[Violation] = list(violations)
        self.extra: dict[str, Any] = extra
        self.headers: dict[str, str] = {}
        """HTTP headers of the answer (``WWW-Authenticate`` of a 401)."""

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        """RFC 7807 problem details document (``application/problem+json``)."""
        problem: dict[str, Any] = {
            "type": f"https://sardonyx.dev/problems/{self.reason}",
            "title": self.title,
            "status": self.status,
            "detail": self.message,
        }
        if instance is not None:
            problem["instance"] = instance
        if self.violations:
            problem["violations"] = [v.as_dict() for v in self.violations]
        problem.update(self.extra)
        return problem


class BadRequest(SardonyxError):
    status = 400
    reason = "bad-request"
    title = "Bad request"


class InvalidValues(BadRequest):
    """The values of a launch do not validate against the chart's resolved schema (all violations listed)."""

    reason = "invalid-values"
    title = "Invalid values"


class InvalidName(BadRequest):
    """A name (service, project, release, path) that does not follow the rules it must follow."""

    reason = "invalid-name"
    title = "Invalid name"


class Unauthorized(SardonyxError):
    """No valid credentials; ``challenge`` is the answer's ``WWW-Authenticate`` header (RFC 6750)."""

    status = 401
    reason = "unauthorized"
    title = "Authentication required"

    def __init__(self, message: str, *, challenge: str = 'Bearer realm="sardonyx"', **extra: Any) -> None:
        super().__init__(message, **extra)
        self.headers["WWW-Authenticate"] = challenge


class Forbidden(SardonyxError):
    status = 403
    reason = "forbidden"
    title = "Forbidden"


class NotFound(SardonyxError):
    status = 404
    reason = "not-found"
    title = "Not found"


class Conflict(SardonyxError):
    status = 409
    reason = "conflict"
    title = "Conflict"


class CatalogError(SardonyxError):
    """A catalog could not be read (unreachable or malformed index, broken chart archive, invalid schema)."""

    status = 502
    reason = "catalog-error"
    title = "Catalog error"


class UnavailableError(SardonyxError):
    """A component the request needs is not running or not reachable (platform down, S3 down, MLflow down)."""

    status = 503
    reason = "unavailable"
    title = "Service unavailable"


@dataclass
class ErrorReport:
    """What the CLI shows for an error: the message and, when there are, one line per violation."""

    message: str
    lines: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, error: SardonyxError) -> ErrorReport:
        return cls(error.message, [f"{v.path or '(document)'}: {v.reason}" for v in error.violations])
