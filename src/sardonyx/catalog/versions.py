"""Chart versions: SemVer 2 parsing and ordering, as Helm and onyxia-api sort them.

Helm (Masterminds/semver) and onyxia-api (jsemver) order chart versions by SemVer 2 precedence: numeric
``major.minor.patch``, a pre-release (``1.0.0-rc.1``) sorts before its release, build metadata (``+abc``) is
ignored. Like Helm we accept a leading ``v`` and a missing minor or patch (``1.1`` is ``1.1.0``); a version that
cannot be parsed at all sorts after every valid one, by its text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

_SEMVER = re.compile(
    r"^v?(?P<major>0|[1-9]\d*)(?:\.(?P<minor>0|[1-9]\d*))?(?:\.(?P<patch>0|[1-9]\d*))?"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)
_STRICT_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)


@total_ordering
@dataclass(frozen=True)
class SemVer:
    """A parsed version: ``major.minor.patch``, pre-release identifiers, build metadata (ignored in order)."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()
    build: str = ""

    @property
    def is_prerelease(self) -> bool:
        return bool(self.prerelease)

    def _key(self) -> tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]:
        # A release sorts after all of its pre-releases; numeric identifiers sort before alphanumeric ones.
        pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.prerelease)
        return (self.major, self.minor, self.patch, 0 if self.prerelease else 1, pre)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, SemVer):
            return NotImplemented
        return self._key() < other._key()


def parse_version(text: str) -> SemVer | None:
    """Parse ``text`` leniently like Helm (``v`` prefix, missing minor/patch); None when it is not a version."""
    match = _SEMVER.match(text.strip())
    if match is None:
        return None
    pre = match.group("pre")
    return SemVer(
        int(match.group("major")),
        int(match.group("minor") or 0),
        int(match.group("patch") or 0),
        tuple(pre.split(".")) if pre else (),
        match.group("build") or "",
    )


def is_strict_semver(text: str) -> bool:
    """True for a SemVer 2.0.0 version (what onyxia-api requires of ``--version``)."""
    return _STRICT_SEMVER.match(text) is not None


def version_sort_key(text: str) -> tuple[int, SemVer, str]:
    """Ascending sort key: valid versions by SemVer precedence, then unparseable ones by text."""
    parsed = parse_version(text)
    if parsed is None:
        return (0, SemVer(0, 0, 0), text)
    return (1, parsed, text)


def sort_versions_desc(versions: list[str]) -> list[str]:
    """Versions newest first (the order onyxia-api keeps and the launcher's version select shows)."""
    return sorted(versions, key=version_sort_key, reverse=True)


def is_prerelease(text: str) -> bool:
    """The launcher's rule for the default version: a version containing ``-`` is a pre-release
    (``launcher/thunks.ts#getChartInfos``: the default is the first version without ``-``)."""
    return "-" in text
