"""Small helpers on JSON values (values trees, contexts, schemas): the ``MISSING`` marker, JSON equality,
copies, and the values-path syntax shared by ``--set``, violations and the form (``a.b[0].c``, ``\\.``)."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Sequence
from enum import Enum
from typing import Any, Final, Literal


class Missing(Enum):
    """JavaScript's ``undefined``: no value at all (distinct from JSON ``null``, which is ``None``)."""

    MISSING = "MISSING"

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = Missing.MISSING

ValuesPath = tuple[str | int, ...]
"""A path in a values tree: keys (str) and list indexes (int), e.g. ``("service", "image", "version")``."""


def same(a: Any, b: Any) -> bool:
    """JSON deep equality (``evt``'s ``same``): ``True`` is not ``1``, ``1`` equals ``1.0``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def json_copy(value: Any) -> Any:
    """A deep copy of containers (scalars are immutable and returned as they are)."""
    if isinstance(value, dict | list):
        return copy.deepcopy(value)
    return value


JsonType = Literal["object", "array", "string", "boolean", "integer", "number", "null"]


def json_type_of(value: Any) -> JsonType:  # noqa: PLR0911 - one return per JSON type
    """The JSON-schema type name of a Python JSON value (an integral float counts as ``integer``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


_PLAIN_KEY: Final = re.compile(r"^[^.\[\]\\=]+$")


def format_path(path: Sequence[str | int]) -> str:
    """``("a", "b.c", 0, "d")`` -> ``a.b\\.c[0].d`` (the ``--set`` syntax; empty path -> "")."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        escaped = part if _PLAIN_KEY.match(part) else re.sub(r"([.\[\]\\=])", r"\\\1", part)
        out += f".{escaped}" if out else escaped
    return out


def compact_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
