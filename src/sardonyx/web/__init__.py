"""The web UI: server-rendered pages (Jinja2 + htmx) served by the platform's API process.

Pages call the same service layer as the CLI and the REST API (``Platform.manager``, ``Platform.catalogs``,
the project's S3 credentials); none computes values itself.

Public API (imported on first use, PEP 562: ``import sardonyx.web.assets`` - what ``sardonyx up`` and
``sardonyx web assets`` need - must not load FastAPI, Jinja2 and every page, which take most of a second):
    router          -- every page and fragment (mount with ``app.include_router(router)``)
    install(app)    -- include the router, serve ``/static`` (our CSS/JS and the npm assets), HTML 404 pages
    ensure_assets   -- download and verify the pinned front-end assets (``assets``)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sardonyx.web.app import install, router
    from sardonyx.web.assets import ensure_assets

_LAZY = {"install": "sardonyx.web.app", "router": "sardonyx.web.app", "ensure_assets": "sardonyx.web.assets"}

__all__ = ["ensure_assets", "install", "router"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
