"""``sardonyx web assets``: fetch the web UI's pinned front-end assets (what ``sardonyx up`` does first)."""

from __future__ import annotations

import typer
from rich.console import Console

from sardonyx.cli import HELP_STYLE, app

web_app = typer.Typer(help="The web UI.", no_args_is_help=True, rich_markup_mode=HELP_STYLE)
app.add_typer(web_app, name="web")


@web_app.command("assets")
def assets() -> None:
    """Download the pinned npm tarballs of htmx and its SSE extension, verify their sha512 integrity, and keep
    the files the pages load in the assets cache (~/.cache/sardonyx/web-assets, or SARDONYX_WEB_ASSETS_DIR)."""
    from sardonyx.web.assets import NPM_ASSETS, ensure_assets

    folder = ensure_assets()
    for asset in NPM_ASSETS:
        Console().print(f"{asset.package}@{asset.version}: {folder / asset.folder}")
