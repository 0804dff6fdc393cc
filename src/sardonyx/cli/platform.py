"""``sardonyx up|down|status``: start, stop and inspect the platform process.

``up`` starts the platform in the background (``python -m sardonyx.daemon``, see ``sardonyx.daemon``) and returns
once its API answers its health check, printing the URL and how to stop it; a second ``up`` finds it running and
says so. ``down`` stops it (services keep running: the next ``up`` re-attaches them). ``status`` exits 0 when the
platform is up, 1 when it is not.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from sardonyx.cli import app
from sardonyx.errors import SardonyxError, UnavailableError
from sardonyx.settings import Settings

console = Console(highlight=False)

PortOption = Annotated[
    int | None, typer.Option("--port", "-p", help="API port (default: the `port` setting, 8420).", show_default=False)
]


def _settings(port: int | None) -> Settings:
    return Settings(port=port) if port is not None else Settings()


def _files(settings: Settings) -> dict[str, Path]:
    from sardonyx.daemon import platform_files

    return platform_files(settings.data_dir)


def running_state(settings: Settings) -> dict[str, Any] | None:
    """``platform.json`` of the platform serving this data directory, when one runs (its lock is held)."""
    from sardonyx.daemon import lock_is_held

    files = _files(settings)
    if not lock_is_held(files["lock"]):
        return None
    try:
        state: dict[str, Any] = json.loads(files["state"].read_text())
    except (OSError, ValueError):
        state = {}
    with contextlib.suppress(OSError, ValueError):
        state.setdefault("pid", int(files["lock"].read_text().strip() or 0))
    return state


def _healthy(url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{url}/public/healthcheck", timeout=1.0).status_code == 200
    except httpx.TransportError:
        return False


def _start_error(settings: Settings, process: subprocess.Popen[bytes] | None) -> SardonyxError:
    from sardonyx.client import error_from_problem

    files = _files(settings)
    try:
        problem = json.loads(files["error"].read_text())
        return error_from_problem(problem, int(problem.get("status", 500)))
    except (OSError, ValueError):
        pass
    tail = ""
    if files["log"].exists():
        lines = files["log"].read_text(errors="replace").splitlines()[-8:]
        tail = "\n" + "\n".join(f"    {line}" for line in lines)
    code = process.returncode if process is not None else "?"
    return UnavailableError(f"the platform exited (status {code}) while starting; log {files['log']}:{tail}")


def start_detached(settings: Settings, *, port: int | None = None) -> subprocess.Popen[bytes]:
    """Start ``python -m sardonyx.daemon`` in a new session, output appended to ``<data_dir>/platform.log``."""
    files = _files(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    files["error"].unlink(missing_ok=True)
    env = dict(os.environ)
    if port is not None:
        env["SARDONYX_PORT"] = str(port)
    with files["log"].open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "sardonyx.daemon"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # not stopped by the terminal's Ctrl+C
            env=env,
            cwd=settings.data_dir,
        )


def wait_until_up(settings: Settings, process: subprocess.Popen[bytes] | None, timeout: float) -> None:
    """Return once the API answers its health check.

    Raises:
        SardonyxError: the process exited (the error it recorded), or the platform is not up after ``timeout``.
    """
    deadline = time.monotonic() + timeout
    while not _healthy(settings.api_url):
        if process is not None and process.poll() is not None:
            raise _start_error(settings, process)
        if time.monotonic() > deadline:
            raise UnavailableError(f"the platform did not answer within {timeout:g} s; see {_files(settings)['log']}")
        time.sleep(0.05)


def _ensure_web_assets() -> None:
    """Fetch the web UI's pinned front-end assets once (npm registry tarballs, integrity-checked); a failure
    is a warning: the pages then load them on first use."""
    from sardonyx.errors import UnavailableError
    from sardonyx.web.assets import default_assets_dir, ensure_assets, missing_assets

    if not missing_assets(default_assets_dir()):
        return
    console.print("Fetching the web UI's assets (htmx) from the npm registry...")
    try:
        ensure_assets()
    except UnavailableError as error:
        console.print(f"[yellow]warning:[/] {error.message}")


@app.command()
def up(
    foreground: Annotated[
        bool, typer.Option("--foreground", help="Stay attached (logs to the terminal; Ctrl+C stops).")
    ] = False,
    port: PortOption = None,
) -> None:
    """Start the platform (state store, S3 server, API) in the background; return once it is ready."""
    from sardonyx.ports import PortInUse, port_is_free

    settings = _settings(port)
    state = running_state(settings)
    if state is not None:
        url = state.get("url", settings.api_url)
        if not _healthy(url):
            wait_until_up(settings, None, settings.startup_timeout_seconds)
        console.print(f"Sardonyx is already running at [bold]{url}[/] (pid {state.get('pid', '?')}).")
        console.print(f"  {'Web UI:':<10}{escape(_login_link(url))}", soft_wrap=True)
        return
    if not port_is_free(settings.port, settings.host):
        from sardonyx.errors import Violation

        raise PortInUse(
            f"port {settings.port} is already in use on {settings.host}: stop the program using it, or choose "
            "another port (sardonyx up --port N, or SARDONYX_PORT)",
            violations=[Violation("port", f"port {settings.port} is already in use")],
        )
    if foreground:
        from sardonyx.daemon import serve

        _ensure_web_assets()
        console.print(f"Starting Sardonyx at [bold]{settings.api_url}[/] (Ctrl+C stops it)...")
        raise typer.Exit(serve(settings))
    begin = time.perf_counter()
    process = start_detached(settings, port=port)
    _ensure_web_assets()  # while the platform starts (importing the web package takes a good part of a second)
    wait_until_up(settings, process, settings.startup_timeout_seconds)
    elapsed = time.perf_counter() - begin
    console.print(f"Sardonyx is up at [bold]{settings.api_url}[/] ({elapsed:.1f} s, pid {process.pid}).")
    for name, where in (
        ("Web UI", _login_link(settings.api_url)),
        ("API docs", f"{settings.api_url}/docs"),
        ("Log", str(_files(settings)["log"])),
    ):
        console.print(f"  {name + ':':<10}{escape(where)}", soft_wrap=True)
    _warn_failed_catalogs(settings.api_url)
    console.print("Launch a service with `sardonyx launch jupyter-python`; stop the platform with `sardonyx down`.")


def _warn_failed_catalogs(url: str) -> None:
    """One warning line per catalog that did not load (the platform serves the others and retries it)."""
    import httpx

    try:
        failed = httpx.get(f"{url}/public/healthcheck", timeout=5.0).json().get("failedCatalogs") or {}
    except (httpx.HTTPError, ValueError):
        return
    for catalog_id, error in failed.items():
        console.print(f"[yellow]warning:[/] catalog {escape(catalog_id)} did not load: {escape(str(error))} "
                      "(retried with back-off; `sardonyx status` shows it)", soft_wrap=True)  # fmt: skip


def _login_link(url: str) -> str:
    """A one-time login link of the web UI (the platform's URL alone when none can be had)."""
    from sardonyx.client import PlatformClient

    try:
        with PlatformClient(url, timeout=5.0) as client:
            return f"{client.login_link()}  (one-time login link; `sardonyx open` prints a new one)"
    except SardonyxError as error:
        return f"{url}/  (no login link: {error.message})"


@app.command()
def down(
    port: PortOption = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait before killing the process.")] = 30.0,
) -> None:
    """Stop the platform (services keep running; the next `sardonyx up` re-attaches them)."""
    from sardonyx.daemon import lock_is_held

    settings = _settings(port)
    state = running_state(settings)
    if state is None:
        console.print("Sardonyx is not running.")
        return
    pid = int(state.get("pid", 0))
    running = 0
    try:
        from sardonyx.client import PlatformClient

        with PlatformClient(state.get("url", settings.api_url), timeout=3.0) as client:
            running = sum(1 for app_ in client.services() if app_["status"] in {"running", "starting", "pending"})
    except SardonyxError:
        pass
    if pid <= 0:
        raise UnavailableError(f"cannot tell which process holds {_files(settings)['lock']}")
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    lock = _files(settings)["lock"]
    while lock_is_held(lock):
        if time.monotonic() > deadline:
            console.print(f"The platform (pid {pid}) did not stop within {timeout:g} s: killing it.")
            os.kill(pid, signal.SIGKILL)
            _stop_orphan_s3(settings)
            break
        time.sleep(0.05)
    console.print("Sardonyx is stopped.")
    if running:
        services = (
            "1 service keeps running; the next `sardonyx up` finds it"
            if running == 1
            else (f"{running} services keep running; the next `sardonyx up` finds them")
        )
        console.print(f"  {services} again.")


def _stop_orphan_s3(settings: Settings) -> None:
    from sardonyx.storage.seaweedfs import SeaweedFS

    SeaweedFS(settings.data_dir / "seaweedfs", settings.s3.ports).stop()


@app.command()
def status(
    port: PortOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
    show_command: Annotated[bool, typer.Option("--show-command", help="Print the equivalent REST call.")] = False,
) -> None:
    """Say whether the platform runs, and what it runs.

    The exit status is 0 when it is up, 1 when it is not running, does not answer, or its S3 server is down.
    """
    settings = _settings(port)
    if show_command:
        from sardonyx.auth import api_token_path
        from sardonyx.client import curl_command

        command = curl_command(
            "GET", settings.api_url + "/platform/status", token_file=str(api_token_path(settings.data_dir))
        )
        Console(stderr=True, highlight=False).print(f"$ {command}")
    state = running_state(settings)
    if state is None:
        if as_json:
            typer.echo(json.dumps({"running": False}))
        else:
            console.print("Sardonyx is not running (start it with `sardonyx up`).")
        raise typer.Exit(1)
    from sardonyx.client import PlatformClient

    url = state.get("url", settings.api_url)
    try:
        with PlatformClient(url, timeout=5.0) as client:
            info = client.status()
    except SardonyxError as error:
        if as_json:
            typer.echo(json.dumps({"running": True, "ready": False, "pid": state.get("pid"), "error": error.message}))
        else:
            console.print(f"Sardonyx (pid {state.get('pid', '?')}) is starting or not answering: {error.message}")
        raise typer.Exit(1) from error
    if as_json:
        typer.echo(json.dumps({"running": True} | info))
        return
    services = info.get("services") or {}
    summary = ", ".join(f"{count} {name}" for name, count in services.items()) or "none"
    uptime = time.time() - float(info.get("startedAt") or time.time())
    console.print(f"Sardonyx {info['version']} is up at [bold]{info['url']}[/] (pid {info['pid']}, up {_ago(uptime)})")
    s3 = info.get("s3") or {}
    supervision = s3.get("supervision") or {}
    s3_down = supervision.get("state") in {"restarting", "failed"}
    if not s3.get("embedded"):
        console.print(f"  S3: {s3.get('endpoint') or 'none'} (external)")
    elif s3_down:
        message = escape(str(supervision.get("message")))
        console.print(f"  S3: {s3.get('endpoint')} [bold red]down[/]: {message}", soft_wrap=True)
    else:
        line = f"  S3: {s3.get('endpoint')} (embedded SeaweedFS, pid {s3.get('pid')}){_restarts(supervision)}"
        console.print(line, soft_wrap=True)
    console.print(f"  runtime: {info['runtime']}    user: {info['user']}    project: {info['project']}")
    console.print(f"  data: {escape(str(info['dataDir']))}", soft_wrap=True)
    console.print(f"  services: {summary}")
    _print_failed_catalogs(info)
    if s3_down:
        raise typer.Exit(1)


def _print_failed_catalogs(info: dict[str, Any]) -> None:
    failed = (info.get("health") or {}).get("failedCatalogs") or {}
    for catalog_id, error in failed.items():
        console.print(f"  catalog {escape(catalog_id)}: [bold red]not loaded[/]: {escape(str(error))}", soft_wrap=True)


def _restarts(supervision: dict[str, Any]) -> str:
    """``; restarted twice, last 3 min ago: it was killed by signal SIGKILL`` (empty when never restarted)."""
    count = int(supervision.get("restarts") or 0)
    if not count:
        return ""
    times = {1: "once", 2: "twice"}.get(count, f"{count} times")
    ago = _ago(time.time() - float(supervision.get("lastExitAt") or time.time()))
    return f"; restarted {times}, last {ago} ago: it {escape(str(supervision.get('lastExit')))}"


def _ago(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.0f} h"
