"""``x-onyxia`` value references: ``overwriteDefaultWith`` and ``overwriteListEnumWith`` expressions.

Semantics of Onyxia's ``resolveXOnyxiaValueReference.ts`` (ONYXIA-REFERENCE 3.4):

- ``"a.b.c"`` is the same as ``"{{a.b.c}}"``: the value at that path of the context, of any JSON type; paths
  accept ``[0]`` indexes and ``["key.with.dots"]`` / ``['key']`` keys;
- a template mixing text and placeholders (``"{{project.id}}-{{k8s.domain}}"``) interpolates scalars (numbers and
  booleans written as JavaScript writes them); a placeholder that is missing or not a scalar makes the whole
  expression unresolvable;
- array and object literals resolve element-wise: a string element containing ``{{`` is resolved, other
  elements are kept as they are (``"a.b.c"`` inside a literal is a plain string); any unresolvable element makes
  the whole literal unresolvable.

Unresolvable is ``MISSING`` (JavaScript's ``undefined``), never an exception.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Final

from sardonyx.catalog.jsonvalues import MISSING, Missing

_FULL: Final = re.compile(r"^\{\{([^}]+)\}\}$")
_PLACEHOLDER: Final = re.compile(r"\{\{([^}]+)\}\}")
_INDEX: Final = re.compile(r"\[(\d+)\]")
_QUOTED: Final = re.compile(r"\[\"([^\"]+)\"\]|\['([^']+)'\]")
_DOT_PLACEHOLDER: Final = "\x00"


def parse_context_path(path: str) -> list[str]:
    """Split ``a.b[0]["k.with.dots"]`` into ``["a", "b", "0", "k.with.dots"]``."""
    text = _INDEX.sub(r".\1", path.strip())
    text = _QUOTED.sub(lambda m: "." + (m.group(1) or m.group(2)).replace(".", _DOT_PLACEHOLDER), text)
    return [part.replace(_DOT_PLACEHOLDER, ".") for part in text.split(".")]


def lookup(context: Mapping[str, Any], path: list[str]) -> Any | Missing:
    """The value at ``path`` in ``context`` (dict keys, list indexes), or ``MISSING``."""
    current: Any = context
    for part in path:
        if isinstance(current, Mapping):
            if part not in current:
                return MISSING
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return MISSING
    return current


def resolve_expression(expression: Any, context: Mapping[str, Any]) -> Any | Missing:
    """Resolve an ``overwriteDefaultWith``/``overwriteListEnumWith`` expression against ``context``.

    Returns the resolved JSON value, or ``MISSING`` when unresolvable. Non-string scalars are literals.
    """
    if isinstance(expression, str):
        return _resolve_string(expression, context)
    if isinstance(expression, list | dict):
        return _resolve_literal(expression, context)
    return expression


def _resolve_string(expression: str, context: Mapping[str, Any]) -> Any | Missing:
    full = _FULL.match(expression)
    if full is not None:
        return lookup(context, parse_context_path(full.group(1)))
    if "{{" in expression:
        failed = False

        def substitute(match: re.Match[str]) -> str:
            nonlocal failed
            value = lookup(context, parse_context_path(match.group(1)))
            text = scalar_text(value)
            if text is None:
                failed = True
                return ""
            return text

        result = _PLACEHOLDER.sub(substitute, expression)
        return MISSING if failed else result
    return lookup(context, parse_context_path(expression))


def _resolve_literal(literal: Any, context: Mapping[str, Any]) -> Any | Missing:
    if isinstance(literal, str):
        return _resolve_string(literal, context) if "{{" in literal else literal
    if isinstance(literal, list):
        items: list[Any] = []
        for element in literal:
            resolved = _resolve_literal(element, context)
            if resolved is MISSING:
                return MISSING
            items.append(resolved)
        return items
    if isinstance(literal, dict):
        mapping: dict[str, Any] = {}
        for key, element in literal.items():
            resolved = _resolve_literal(element, context)
            if resolved is MISSING:
                return MISSING
            mapping[key] = resolved
        return mapping
    return literal


def scalar_text(value: Any) -> str | None:
    """A scalar as JavaScript's template literals write it (``true``, ``42``, ``1.5``); None otherwise."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):  # NaN and infinities are not JSON
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value
    return None


def mentions_root_key(expression: Any, key: str) -> bool:
    """True when an expression refers to the context's top-level ``key`` (e.g. ``s3``): the launcher shows an
    S3-profile selector only for charts whose expressions read ``s3`` (``computeHelmValues.ts``)."""
    if isinstance(expression, str):
        full = _FULL.match(expression)
        if full is not None:
            return parse_context_path(full.group(1))[0] == key
        if "{{" in expression:
            return any(parse_context_path(m.group(1))[0] == key for m in _PLACEHOLDER.finditer(expression))
        return parse_context_path(expression)[0] == key
    if isinstance(expression, list | dict):
        return _literal_mentions(expression, key)
    return False


def _literal_mentions(element: Any, key: str) -> bool:
    if isinstance(element, str):
        return "{{" in element and mentions_root_key(element, key)
    if isinstance(element, list):
        return any(_literal_mentions(e, key) for e in element)
    if isinstance(element, dict):
        return any(_literal_mentions(e, key) for e in element.values())
    return False
