"""The NAF rév. 2 nomenclature (NACE Rev. 2 + French subclasses) as a first-class object.

Five nested levels: section (21, ``G``), division (88, ``47``), group (272, ``47.9``), class (615, ``47.91``) and
subclass (732, ``47.91A``). codif's canonical form of a code is INSEE's compact one, as Sirene and Insee's API
write it: ``G``, ``47``, ``479``, ``4791``, ``4791A``; :meth:`Nomenclature.dotted` gives the published form.
Source: ``nomenclature/naf2008/naf2008_5levels_fr.csv`` (INSEE, via pynsee; see the data PROVENANCE).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from codif.errors import CodifDataError, UnknownCodeError
from codif.paths import NAF_CSV, data_file
from sardonyx.errors import Violation

Level = Literal["section", "division", "group", "class", "subclass"]
LEVELS: Final[tuple[Level, ...]] = ("section", "division", "group", "class", "subclass")
UNCLASSIFIABLE: Final = "XXXXX"
"""The experts' code for a form that cannot be coded (Label Studio's "Inclassable")."""

_SHAPES: Final[tuple[tuple[Level, re.Pattern[str]], ...]] = (
    ("section", re.compile(r"[A-U]")),
    ("division", re.compile(r"\d{2}")),
    ("group", re.compile(r"\d{3}")),
    ("class", re.compile(r"\d{4}")),
    ("subclass", re.compile(r"\d{4}[A-Z]")),
)


def compact(code: str) -> str:
    """``code`` without dots or spaces, upper-cased (``' 47.91a'`` -> ``'4791A'``); no membership check."""
    return re.sub(r"[\s.]", "", str(code)).upper()


def shape_level(code: str) -> Level | None:
    """The level a compact code's shape says (``'4791A'`` -> ``'subclass'``), None when no level fits."""
    for level, pattern in _SHAPES:
        if pattern.fullmatch(code):
            return level
    return None


@dataclass(frozen=True)
class Nomenclature:
    """NAF rév. 2: every code of the 5 levels with its French label and its parent at every level.

    Build it with :meth:`load`. Lookups accept any spelling (``47.91A``, ``4791a``) and answer canonical codes.
    """

    labels: dict[str, str]
    """canonical code (any level) -> French label"""
    ancestry: dict[str, dict[Level, str]]
    """canonical subclass -> {level: canonical code of its parent at that level (itself for subclass)}"""
    subclasses: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "subclasses", tuple(sorted(self.ancestry)))

    @classmethod
    def load(cls, path: Path | str | None = None, *, data_dir: Path | str | None = None) -> Nomenclature:
        """Read INSEE's 5-level table (UTF-8 CSV, one row per subclass).

        Raises:
            MissingDataError: the file is not there.
            CodifDataError: a column is missing or a row is malformed (every problem listed).
        """
        source = Path(path) if path is not None else data_file(NAF_CSV, data_dir)
        with source.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        needed = [col for level in LEVELS for col in (level, f"label_{level}")]
        missing = [col for col in needed if rows and col not in rows[0]]
        if not rows or missing:
            raise CodifDataError(
                f"{source} is not a NAF 5-level table",
                violations=[Violation(col, "column missing") for col in missing] or [Violation("", "no rows")],
            )
        labels: dict[str, str] = {}
        ancestry: dict[str, dict[Level, str]] = {}
        problems: list[Violation] = []
        for number, row in enumerate(rows, start=1):
            chain: dict[Level, str] = {}
            for level in LEVELS:
                code = compact(row[level])
                if shape_level(code) != level or not row[f"label_{level}"].strip():
                    problems.append(Violation(f"row {number}", f"bad {level} {row[level]!r}"))
                    break
                chain[level] = code
                labels[code] = row[f"label_{level}"].strip()
            else:
                ancestry[chain["subclass"]] = chain
        if problems:
            raise CodifDataError(f"{source} has malformed rows", violations=problems)
        return cls(labels=labels, ancestry=ancestry)

    def normalize(self, code: str, level: Level | None = None) -> str:
        """The canonical form of ``code`` (any spelling), checked against the nomenclature.

        Args:
            code: e.g. ``47.91A``, ``4791a``, ``47.9``, ``G``.
            level: when given, the code must be of that level.

        Raises:
            UnknownCodeError: the code is not a NAF rév. 2 code (of ``level``).
        """
        canonical = self.try_normalize(code, level)
        if canonical is None:
            where = f" {level}" if level else ""
            raise UnknownCodeError(
                f"{code!r} is not a NAF rév. 2{where} code", violations=[Violation("code", f"unknown: {code!r}")]
            )
        return canonical

    def try_normalize(self, code: str, level: Level | None = None) -> str | None:
        """Like :meth:`normalize`, returning None instead of raising."""
        canonical = compact(code)
        if canonical not in self.labels:
            return None
        if level is not None and shape_level(canonical) != level:
            return None
        return canonical

    def level_of(self, code: str) -> Level:
        """The level of a NAF code (raises :class:`UnknownCodeError` for an unknown one)."""
        return self._level(self.normalize(code))

    @staticmethod
    def _level(canonical: str) -> Level:
        level = shape_level(canonical)
        if level is None:  # impossible for a code read by load(): every one was checked
            raise UnknownCodeError(f"{canonical!r} has the shape of no NAF level")
        return level

    def label(self, code: str) -> str:
        """French label of a code of any level (raises :class:`UnknownCodeError` for an unknown one)."""
        return self.labels[self.normalize(code)]

    def parent(self, subclass: str, level: Level) -> str:
        """The code at ``level`` containing ``subclass`` (``('4791A', 'division')`` -> ``'47'``)."""
        return self.ancestry[self.normalize(subclass, "subclass")][level]

    def parents(self, subclass: str) -> dict[Level, str]:
        """``{level: code}`` for the 5 levels of ``subclass``, section first."""
        return dict(self.ancestry[self.normalize(subclass, "subclass")])

    def children(self, code: str) -> tuple[str, ...]:
        """The subclasses under ``code`` (any level; a subclass answers itself), in code order."""
        canonical = self.normalize(code)
        level = self._level(canonical)
        return tuple(sub for sub in self.subclasses if self.ancestry[sub][level] == canonical)

    def dotted(self, code: str) -> str:
        """Published spelling: ``4791A`` -> ``47.91A``, ``479`` -> ``47.9``, ``47`` -> ``47``."""
        canonical = self.normalize(code)
        return canonical if len(canonical) <= 2 else f"{canonical[:2]}.{canonical[2:]}"

    def invalid_codes(
        self, codes: Iterable[str], *, column: str = "code", allow_unclassifiable: bool = False
    ) -> list[Violation]:
        """One violation per code that is not a subclass (rows numbered from 1), for error reports."""
        problems: list[Violation] = []
        for number, code in enumerate(codes, start=1):
            if allow_unclassifiable and compact(code) == UNCLASSIFIABLE:
                continue
            if self.try_normalize(code, "subclass") is None:
                problems.append(Violation(f"row {number}", f"{column}: {code!r} is not a NAF rév. 2 subclass"))
        return problems

    def __len__(self) -> int:
        return len(self.subclasses)
