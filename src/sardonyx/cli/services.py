"""``sardonyx launch|services|logs|suspend|resume|delete|open``: services, through the platform's REST API.

Every command talks to the running platform (``PlatformClient``), i.e. the same service layer as the REST API and
the web UI. ``--show-command`` prints the equivalent REST call (``curl``) and, for a launch, the equivalent
``helm`` commands. A SERVICE argument is a service id or a friendly name.
"""

from __future__ import annotations

import json
import time
import webbrowser
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sardonyx.cli import app
from sardonyx.errors import BadRequest

if TYPE_CHECKING:
    from sardonyx.client import PlatformClient

console = Console(highlight=False)
err = Console(stderr=True, highlight=False)

ServiceArgument = Annotated[str, typer.Argument(help="Service id or friendly name.", show_default=False)]
ShowCommand = Annotated[
    bool, typer.Option("--show-command", help="Print the equivalent REST call (curl) and helm commands.")
]
RevealOption = Annotated[
    bool, typer.Option("--reveal", help="Show secrets (passwords, tokens, S3 secret key) in clear; masked by default.")
]
UrlOption = Annotated[
    str | None,
    typer.Option("--url", help="Platform URL (default: the port setting on 127.0.0.1).", show_default=False),
]

_STATUS_STYLE = {
    "running": "green",
    "succeeded": "green",
    "failed": "bold red",
    "pending": "yellow",
    "starting": "yellow",
    "stopping": "yellow",
    "deleting": "yellow",
    "suspended": "blue",
    "stopped": "blue",
}


def _client(url: str | None) -> PlatformClient:
    from sardonyx.client import PlatformClient

    return PlatformClient(url)


def _curl(method: str, url: str, body: Any = None, *, stream: bool = False) -> str:
    from sardonyx.client import curl_command, default_token_file

    return curl_command(method, url, body, stream=stream, token_file=default_token_file())


def _show(line: str) -> None:
    err.print(f"[dim]$[/] {escape(line)}", soft_wrap=True)


def label(service: dict[str, Any]) -> str:
    """``My lab (jupyter-python-797018)``; the id alone when the friendly name adds nothing (the chart's name)."""
    name = str(service.get("friendlyName") or "")
    sid = str(service["id"])
    if not name or name in {sid, service.get("chartName"), service.get("subtitle")}:
        return sid
    return f"{name} ({sid})"


STATUS_PHRASES = {
    "pending": "is starting",
    "starting": "is starting",
    "running": "is running",
    "suspended": "is suspended",
    "stopping": "is being suspended",
    "stopped": "is stopped",
    "succeeded": "has succeeded",
    "failed": "has failed",
    "deleting": "is being deleted",
}


def status_phrase(status: str) -> str:
    """``is running``, ``has failed``...: a status as the end of a sentence."""
    return STATUS_PHRASES.get(status, f"is {status}")


def headline(message: str | None) -> str:
    """The first sentence-line of a service's message (the lines of log some messages carry left out)."""
    first = (message or "").split("\n", 1)[0].strip()
    return first.removesuffix("Last lines of its log:").strip()


@app.command()
def launch(
    chart: Annotated[str, typer.Argument(help="Chart name, e.g. jupyter-python.", show_default=False)],
    *,
    name: Annotated[str | None, typer.Option("--name", "-n", help="Friendly name (default: the chart).")] = None,
    set_options: Annotated[
        list[str] | None, typer.Option("--set", "-s", help="Override a value: path=value (repeatable).")
    ] = None,
    version: Annotated[str | None, typer.Option("--version", "-v", help="Chart version.")] = None,
    catalog: Annotated[str | None, typer.Option("--catalog", "-c", help="Catalog id.")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Show progress until the service is ready.")] = True,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the values and commands; launch nothing.")] = False,
    show_command: ShowCommand = False,
    reveal: RevealOption = False,
    url: UrlOption = None,
) -> None:
    """Launch a service from the catalog, show its progress, then its URL and password.

    A job is followed until it ends. The exit status is 1 when the service or job failed.
    """
    with _client(url) as client:
        options: dict[str, Any] = {
            "catalog_id": catalog,
            "version": version,
            "friendly_name": name,
            "set_options": set_options or [],
        }
        if dry_run:
            preview = client.launch(chart, dry_run=True, reveal=reveal, **options)
            console.print(f"# {preview['id']}: {preview['catalogId']}/{preview['packageName']} "
                          f"{preview['packageVersion']} in {preview['namespace']}")  # fmt: skip
            console.print(escape(preview["commands"]["sardonyx"]))
            for line in preview["commands"]["helm"]:
                console.print(escape(line))
            return
        if show_command:
            _show(_curl("PUT", client.url("/my-lab/app"), client.launch_body(chart, **options)))
        service = client.launch(chart, **options)
        service_id = service["id"]
        console.print(f"Launched {escape(label(service))}.")
        if show_command:
            for line in client.commands(service_id, reveal=reveal)["install"]:
                _show(line)
        if not wait:
            console.print(f"  Follow it with `sardonyx services` or `sardonyx logs {service_id} --follow`.")
            return
        final = _follow_progress(client, service_id)
        _report(final)
        if final["status"] == "failed":
            raise typer.Exit(1)


def _follow_progress(client: PlatformClient, service_id: str) -> dict[str, Any]:
    """Show the start-up progress until ready or failed (a bar in a terminal; one line per step otherwise, for
    logs), then wait for a job to end; returns the service."""
    if console.is_terminal:
        _progress_bar(client, service_id)
    else:
        last = ""
        for event in client.progress(service_id):
            message = str(event.get("message", ""))
            if event.get("kind") in {"ready", "failed"}:
                continue  # the outcome is reported once, below
            if message and message != last:
                console.print(f"  {escape(message)}", soft_wrap=True)
                last = message
    service = client.service(service_id)
    for _ in range(40):  # the status follows the last progress event within the watcher's interval
        if service["status"] not in {"pending", "starting"}:
            break
        time.sleep(0.05)
        service = client.service(service_id)
    if service.get("job") and service["status"] == "running":
        with console.status(f"The job {escape(label(service))} is running (Ctrl+C stops waiting, not the job)..."):
            try:
                service = client.wait(service_id, {"succeeded", "failed", "stopped"}, timeout=float("inf"))
            except KeyboardInterrupt:
                return client.service(service_id)
    return service


def _progress_bar(client: PlatformClient, service_id: str) -> None:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(),
        console=console, transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task("Requested.", total=100)
        for event in client.progress(service_id):
            bar.update(task, completed=event.get("progress", 0), description=escape(str(event.get("message", ""))))


def _report(service: dict[str, Any]) -> None:
    """The outcome of a launch or a resume, in sentences: running (URL, password), a job's end, a failure (the
    platform's message, with the log lines it carries), or any other status."""
    status = service["status"]
    sid = service["id"]
    who = escape(label(service))
    if status == "running":
        kind = "The job " if service.get("job") else ""
        console.print(f"{kind}{who} is [green]running[/].")
        if service.get("urls"):
            console.print(f"  URL:      [bold]{escape(service['urls'][0])}[/]", soft_wrap=True)
        if service.get("password"):
            console.print(f"  Password: {escape(service['password'])}", soft_wrap=True)
    elif status == "succeeded":
        console.print(f"The job {who} [green]succeeded[/].")
        console.print(f"  Its output: sardonyx logs {sid}")
    elif status == "failed":
        lines = (service.get("message") or "").splitlines() or [f"{label(service)} failed."]
        first = lines[0] if "fail" in lines[0].lower() else f"{label(service)} failed: {lines[0]}"
        console.print(f"[bold red]{escape(first)}[/]", soft_wrap=True)
        for line in lines[1:]:
            console.print(f"    {escape(line)}", soft_wrap=True, highlight=False)
        console.print(f"  Its log: sardonyx logs {sid}")
    else:
        message = headline(service.get("message"))
        console.print(f"{who} {status_phrase(status)}." + (f" {escape(message)}" if message else ""), soft_wrap=True)


def _age(milliseconds: int | None) -> str:
    if not milliseconds:
        return ""
    seconds = max(0.0, time.time() - milliseconds / 1000)
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.0f}h"
    return f"{seconds / 86400:.0f}d"


@app.command("services")
def list_services(
    as_json: Annotated[bool, typer.Option("--json", help="Print Onyxia's JSON instead of a table.")] = False,
    show_command: ShowCommand = False,
    url: UrlOption = None,
) -> None:
    """List the services of your project with their status and URL."""
    with _client(url) as client:
        if show_command:
            _show(_curl("GET", client.url("/my-lab/services")))
        apps = client.services()
    if as_json:
        typer.echo(json.dumps({"apps": apps}, indent=1))
        return
    if not apps:
        console.print("No services. Launch one: sardonyx launch jupyter-python")
        return
    table = Table(box=None, pad_edge=False)
    table.add_column("ID", no_wrap=True)
    table.add_column("NAME", overflow="fold")
    table.add_column("CHART", overflow="fold")
    table.add_column("STATUS", no_wrap=True)
    table.add_column("AGE", no_wrap=True)
    table.add_column("URL / MESSAGE", overflow="fold")
    for item in apps:
        status = item["status"]
        style = _STATUS_STYLE.get(status, "")
        detail = (item.get("urls") or [""])[0]
        if status in {"failed", "pending", "starting", "stopped"} and item.get("message"):
            detail = headline(item["message"])
        table.add_row(
            item["id"],
            escape(item.get("friendlyName") or ""),
            f"{item.get('chartName', item['chart'])} {item.get('version', '')}".strip(),
            f"[{style}]{status}[/]" if style else status,
            _age(item.get("startedAt")),
            escape(detail or ""),
        )
    console.print(table)


@app.command()
def logs(
    service: ServiceArgument,
    *,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines until it stops.")] = False,
    tail: Annotated[int | None, typer.Option("--tail", help="Only the last N lines first.", min=0)] = None,
    show_command: ShowCommand = False,
    reveal: RevealOption = False,
    url: UrlOption = None,
) -> None:
    """Print a service's log (its secrets masked unless --reveal)."""
    with _client(url) as client:
        service_id = client.resolve(service)["id"]
        params: dict[str, Any] = {"serviceId": service_id, "tail": tail}
        if follow:
            params["follow"] = "true"
        if reveal:
            params["reveal"] = "true"
        if show_command:
            _show(_curl("GET", client.url("/my-lab/app/logs", params), stream=follow))
        if not follow:
            typer.echo(client.logs(service_id, tail=tail, reveal=reveal), nl=False)
            return
        try:
            for line in client.follow_logs(service_id, tail=tail, reveal=reveal):
                typer.echo(line)
        except KeyboardInterrupt:
            return


@app.command()
def suspend(service: ServiceArgument, show_command: ShowCommand = False, url: UrlOption = None) -> None:
    """Suspend a service: its processes stop, its files stay; `sardonyx resume` starts it again."""
    with _client(url) as client:
        found = client.resolve(service)
        if show_command:
            _show(_curl("POST", client.url("/my-lab/app/suspend"), {"serviceID": found["id"]}))
        if found["status"] in {"suspended", "stopping"}:
            console.print(f"{escape(label(found))} {status_phrase(found['status'])} already.")
            return
        result = client.suspend(found["id"])
        if result["status"] == "stopping":  # its processes are given their grace period to stop
            with console.status(f"Suspending {escape(label(result))}..."):
                result = client.wait(result["id"], {"suspended", "failed", "stopped"}, timeout=300, poll=0.2)
    if result["status"] == "suspended":
        console.print(f"{escape(label(result))} is suspended: its files are kept; `sardonyx resume {result['id']}` "
                      "starts it again.")  # fmt: skip
    else:
        console.print(f"{escape(label(result))} {status_phrase(result['status'])}.")


@app.command()
def resume(
    service: ServiceArgument,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Show its progress until it is ready.")] = True,
    show_command: ShowCommand = False,
    url: UrlOption = None,
) -> None:
    """Resume a suspended service with the same values, show its progress, then its URL and password.

    A stopped or failed service can be resumed too.
    """
    with _client(url) as client:
        found = client.resolve(service)
        if show_command:
            _show(_curl("POST", client.url("/my-lab/app/resume"), {"serviceID": found["id"]}))
        if found["status"] in {"running", "pending", "starting"}:
            console.print(f"{escape(label(found))} {status_phrase(found['status'])} already.")
            return
        result = client.resume(found["id"])
        console.print(f"Resuming {escape(label(result))}.")
        if not wait:
            console.print(f"  Follow it with `sardonyx services` or `sardonyx logs {result['id']} --follow`.")
            return
        final = _follow_progress(client, result["id"])
    _report(final)
    if final["status"] == "failed":
        raise typer.Exit(1)


@app.command()
def delete(
    service: ServiceArgument,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Return once it is gone.")] = True,
    show_command: ShowCommand = False,
    url: UrlOption = None,
) -> None:
    """Delete a service: stop it and remove its files."""
    with _client(url) as client:
        found = client.resolve(service)
        params = {"path": found["id"]} | ({} if wait else {"wait": "false"})
        if show_command:
            _show(_curl("DELETE", client.url("/my-lab/app", params)))
        client.delete(found["id"], wait=wait)
    console.print(f"Deleted {escape(label(found))}." if wait else f"{escape(label(found))} is being deleted.")


@app.command("open")
def open_service(
    service: Annotated[
        str | None, typer.Argument(help="Service id or friendly name; none: the web UI.", show_default=False)
    ] = None,
    browser: Annotated[bool, typer.Option("--browser/--no-browser", help="Open it in a web browser.")] = True,
    show_command: ShowCommand = False,
    reveal: RevealOption = False,
    url: UrlOption = None,
) -> None:
    """Open the web UI logged in (a one-time login link), or a service logged in (its URL carries its login).

    Without SERVICE: prints a one-time login link of the web UI and opens it. With SERVICE: prints the URL that
    logs you into the service (JupyterLab's token URL...) and opens it.
    """
    if service is None:
        with _client(url) as client:
            if show_command:
                _show(_curl("POST", client.url("/auth/login-links")))
            link = client.login_link()
        console.print(f"Web UI: [bold]{escape(link)}[/]", soft_wrap=True)
        console.print("  A one-time login link: it logs one browser in, then `sardonyx open` prints a new one.")
        if browser:
            webbrowser.open(link)
        return
    with _client(url) as client:
        found = client.resolve(service)
        if show_command:
            _show(_curl("GET", client.url("/my-lab/app", {"serviceId": found["id"]})))
        details = client.service(found["id"])
    if not details.get("urls"):
        who = label(details)
        if details.get("job"):
            raise BadRequest(f"{who} is a job: it has no URL to open (its output: sardonyx logs {details['id']})")
        if details["status"] in {"pending", "starting"}:
            raise BadRequest(f"{who} is starting: it has no URL yet (`sardonyx services` says when it runs)")
        raise BadRequest(f"{who} {status_phrase(details['status'])}: it has no URL to open")
    _report(details)
    login = details.get("loginUrl") or details["urls"][0]
    if login != details["urls"][0]:
        from sardonyx.masking import mask_text

        shown = login if reveal else mask_text(login, [str(details.get("password") or "")])
        console.print(f"  Log in:   [bold]{escape(shown)}[/]", soft_wrap=True)
    if browser:
        webbrowser.open(login)
