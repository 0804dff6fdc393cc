"""``sardonyx envs list|prune``: the local runtime's environment cache (Python environments built with uv for
the charts' recipes, reused by every launch asking for the same requirements), through the platform's REST API.

``list`` shows each environment with its size, when it was built, its requirements and the services using it;
``prune`` deletes those no service uses (and no process runs: the cache is shared by every data directory), and
the leftovers of interrupted builds. A pruned environment is built again by the next launch that needs it.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sardonyx.cli import HELP_STYLE, app

envs_app = typer.Typer(
    help="The environment cache of the local runtime.", no_args_is_help=True, rich_markup_mode=HELP_STYLE
)
app.add_typer(envs_app, name="envs")

console = Console(highlight=False)
err = Console(stderr=True, highlight=False)

UrlOption = Annotated[
    str | None,
    typer.Option("--url", help="Platform URL (default: the port setting on 127.0.0.1).", show_default=False),
]
ShowCommand = Annotated[bool, typer.Option("--show-command", help="Print the equivalent REST call (curl).")]


def size_text(size: float) -> str:
    """``512 B``, ``1.5 KB``, ``230 MB``, ``1.2 GB`` (powers of 1024, as `du -h`)."""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" or size >= 100 else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"  # pragma: no cover - the loop returns


def _ago(timestamp: float | None) -> str:
    if not timestamp:
        return ""
    seconds = max(0.0, time.time() - timestamp)
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


def _contents(entry: dict[str, Any]) -> str:
    parts = list(entry.get("requirements") or [])
    project = entry.get("project")
    if isinstance(project, dict):
        extras = ",".join(project.get("extras") or [])
        parts.append(f"sardonyx[{extras}] (this checkout)" if extras else "sardonyx (this checkout)")
    return ", ".join(parts) or "no package (the interpreter alone)"


@envs_app.command("list")
def list_environments(
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON instead of a table.")] = False,
    show_command: ShowCommand = False,
    url: UrlOption = None,
) -> None:
    """List the built environments: size, age, packages, and the services that use them."""
    from sardonyx.client import PlatformClient, curl_command, default_token_file

    with PlatformClient(url) as client:
        if show_command:
            command = curl_command("GET", client.url("/platform/environments"), token_file=default_token_file())
            err.print(f"[dim]$[/] {escape(command)}")
        cache = client.environments()
    if as_json:
        typer.echo(json.dumps(cache, indent=1))
        return
    entries = cache["environments"]
    if not entries:
        console.print(f"No environment built yet in {escape(cache['root'])}.")
        return
    table = Table(box=None, pad_edge=False)
    table.add_column("ENVIRONMENT", no_wrap=True)
    table.add_column("SIZE", justify="right", no_wrap=True)
    table.add_column("LAST USED", no_wrap=True)
    table.add_column("USED BY", overflow="fold")
    table.add_column("PACKAGES", overflow="fold")
    unused = 0
    for entry in entries:
        users = list(entry["services"])
        if entry["processes"] and not users:
            users = [f"{len(entry['processes'])} process{'es' if len(entry['processes']) > 1 else ''} (elsewhere)"]
        if not users:
            unused += int(entry["size"])
        table.add_row(
            entry["key"],
            size_text(entry["size"]),
            _ago(entry.get("lastUsed") or entry.get("builtAt")),
            escape(", ".join(users)) if users else "[dim]unused[/]",
            escape(_contents(entry)),
        )
    console.print(table)
    total = f"{len(entries)} environment{'s' if len(entries) != 1 else ''}, {size_text(cache['size'])}"
    console.print(f"{total} in {escape(cache['root'])}" + (f"; {size_text(unused)} unused" if unused else "") + ".")
    if unused:
        console.print("Delete the unused ones with: sardonyx envs prune")


@envs_app.command("prune")
def prune(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would be deleted.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    show_command: ShowCommand = False,
    url: UrlOption = None,
) -> None:
    """Delete the environments no service uses (the next launch that needs one builds it again)."""
    from sardonyx.client import PlatformClient, curl_command, default_token_file

    with PlatformClient(url) as client:
        if show_command:
            params = {"dryRun": "true"} if dry_run else None
            command = curl_command(
                "POST", client.url("/platform/environments/prune", params), token_file=default_token_file()
            )
            err.print(f"[dim]$[/] {escape(command)}")
        plan = client.prune_environments(dry_run=True)
        if not plan["removed"] and not plan["leftovers"]:
            console.print("Nothing to prune: every environment is in use.")
            return
        _describe(plan, "Would delete" if dry_run else "To delete")
        if dry_run:
            return
        if not yes and not typer.confirm(f"Delete them ({size_text(plan['freed'])})?", default=False):
            console.print("Nothing was deleted.")
            raise typer.Exit(1)
        done = client.prune_environments()
    count = len(done["removed"])
    console.print(
        f"Deleted {count} environment{'s' if count != 1 else ''}"
        + (f" and {len(done['leftovers'])} unfinished build{'s' if len(done['leftovers']) != 1 else ''}"
           if done["leftovers"] else "")
        + f": {size_text(done['freed'])} freed."
    )  # fmt: skip
    skipped = {e["key"] for e in plan["removed"]} - {e["key"] for e in done["removed"]}
    if skipped:
        console.print(f"Kept {', '.join(sorted(skipped))}: a launch started using them meanwhile.")


def _describe(plan: dict[str, Any], verb: str) -> None:
    for entry in plan["removed"]:
        packages = ", ".join(entry.get("requirements") or []) or "no package"
        console.print(f"  {entry['key']}  {size_text(entry['size']):>8}  {escape(packages)}")
    for folder in plan["leftovers"]:
        console.print(f"  {escape(folder)} (an unfinished build)")
    count = len(plan["removed"]) + len(plan["leftovers"])
    console.print(f"{verb}: {count} folder{'s' if count != 1 else ''}, {size_text(plan['freed'])}.")
