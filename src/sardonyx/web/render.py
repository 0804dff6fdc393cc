"""Rendering pages: the Jinja2 environment, its filters, and the page/fragment responses.

Templates live in ``web/templates`` (autoescaped, ``StrictUndefined`` so that a missing variable is a bug, not
an empty string). Every page gets ``request``, ``active`` (the navigation entry), ``theme`` and ``user``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from sardonyx import __version__
from sardonyx.masking import mask_text
from sardonyx.web.markdown import render_markdown

WEB_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"

THEMES = ("system", "light", "dark")
"""Interface themes: follow the operating system, or force light or dark."""


def filesize(size: int | float | None) -> str:
    """Bytes for people: ``0 B``, ``999 B``, ``1.5 kB``, ``12 MB``, ``3.2 GB`` (SI units, as S3 consoles show)."""
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            if unit == "B":
                return f"{int(value)} B"
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
        value /= 1000
    return f"{value:.0f} PB"  # pragma: no cover - the loop returns at TB


def as_datetime(value: datetime | float | int | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(float(value), UTC)


def datetime_text(value: datetime | float | int | None) -> str:
    """``2026-11-01 14:03 UTC`` (times are shown in UTC: the server does not know the browser's zone)."""
    moment = as_datetime(value)
    return "" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def timeago(value: datetime | float | int | None, now: float | None = None) -> str:
    """``just now``, ``5 minutes ago``, ``3 hours ago``, ``2 days ago``."""
    moment = as_datetime(value)
    if moment is None:
        return ""
    current = now if now is not None else datetime.now(UTC).timestamp()
    seconds = max(0.0, current - moment.timestamp())
    for limit, size, unit in ((60, 1, ""), (3600, 60, "minute"), (86400, 3600, "hour"), (math.inf, 86400, "day")):
        if seconds < limit:
            if not unit:
                return "just now"
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return ""  # pragma: no cover


def highlight(text: str | None, query: str | None) -> Markup:
    """``text`` escaped, with every case-insensitive occurrence of ``query`` wrapped in ``<mark>``."""
    source = text or ""
    if not query or not query.strip():
        return escape(source)
    needle = query.strip().lower()
    lowered = source.lower()
    parts: list[str] = []
    start = 0
    while True:
        found = lowered.find(needle, start)
        if found < 0:
            parts.append(str(escape(source[start:])))
            break
        parts.append(str(escape(source[start:found])))
        parts.append(f"<mark>{escape(source[found : found + len(needle)])}</mark>")
        start = found + len(needle)
    return Markup("".join(parts))  # noqa: S704 - every piece is escaped above


def json_attr(value: Any) -> str:
    """Compact JSON for a ``data-*`` attribute (escaped by the template)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=select_autoescape(["html", "svg"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters["filesize"] = filesize
    env.filters["datetime"] = datetime_text
    env.filters["timeago"] = timeago
    env.filters["markdown"] = render_markdown
    env.filters["highlight"] = highlight
    env.filters["json_attr"] = json_attr
    env.filters["mask"] = mask_text
    env.globals["version"] = __version__
    env.globals["static_version"] = _static_version()
    return env


def _static_version() -> str:
    """A cache-busting token for our own static files: their modification times."""
    stamps = [int(p.stat().st_mtime) for p in sorted(STATIC_DIR.glob("*")) if p.is_file()]
    return f"{__version__}-{max(stamps, default=0)}"


def theme_of(request: Request) -> str:
    """The interface theme chosen on the account page (stored in a cookie), ``system`` by default."""
    theme = request.cookies.get("sardonyx_theme", "system")
    return theme if theme in THEMES else "system"


def render_text(template: str, context: Mapping[str, Any]) -> str:
    return environment().get_template(template).render(context)


def page(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """A full page (or a fragment: templates decide what they extend) as an HTML response."""
    values: dict[str, Any] = {"request": request, "theme": theme_of(request), "active": ""}
    values.update(context or {})
    html = render_text(template, values)
    return HTMLResponse(html, status_code=status_code, headers=dict(headers or {}))


def is_htmx(request: Request) -> bool:
    """True for requests made by htmx (``HX-Request: true``)."""
    return request.headers.get("HX-Request") == "true"
