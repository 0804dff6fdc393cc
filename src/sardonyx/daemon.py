"""The platform process: the API server (uvicorn) hosting the platform (state store, S3, runtime supervisor).

Run by ``sardonyx up`` in the background (``python -m sardonyx.daemon``, output to ``<data_dir>/platform.log``)
or attached (``sardonyx up --foreground``). One per data directory: it holds an exclusive lock on
``<data_dir>/platform.lock`` for its whole life. It binds the API port before anything else, so a taken port
is reported at once; once ready it writes ``<data_dir>/platform.json`` (pid, URL); if it cannot start, it
writes the error as a problem document to ``<data_dir>/platform.error.json`` for ``sardonyx up`` to show.
SIGTERM or SIGINT stop it gracefully: the S3 server stops, services keep running.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import sys
import time
from pathlib import Path
from typing import IO, Any

from sardonyx import __version__
from sardonyx.errors import Conflict, SardonyxError, Violation
from sardonyx.ports import PortInUse
from sardonyx.settings import Settings
from sardonyx.storage.seaweedfs import SeaweedFS

log = logging.getLogger("sardonyx")


class AlreadyRunning(Conflict):
    """Another platform process serves this data directory."""

    reason = "already-running"
    title = "Already running"


def platform_files(data_dir: Path) -> dict[str, Path]:
    """Files the platform process keeps in the data directory: lock, state (pid and URL), log, start error."""
    return {
        "lock": data_dir / "platform.lock",
        "state": data_dir / "platform.json",
        "log": data_dir / "platform.log",
        "error": data_dir / "platform.error.json",
    }


def acquire_lock(path: Path) -> IO[str]:
    """Hold the exclusive lock of the data directory (released when the process ends).

    Raises:
        AlreadyRunning: another process holds it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as error:
        handle.close()
        raise AlreadyRunning(f"a platform is already running with the data directory {path.parent}") from error
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def lock_is_held(path: Path) -> bool:
    """True when a live process holds the data directory's lock."""
    if not path.exists():
        return False
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def bind_api_socket(host: str, port: int) -> socket.socket:
    """The API's listening socket, bound now (before the slow start-up) so that a taken port fails at once.

    Raises:
        PortInUse: the port is taken.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise PortInUse(
            f"the API cannot start: port {port} is already in use on {host}; stop the program using it or choose "
            "another port (sardonyx up --port N, or SARDONYX_PORT)",
            violations=[Violation("port", f"port {port} is already in use on {host}")],
        ) from error
    sock.set_inheritable(True)
    return sock


def configure_logging(level: str) -> None:
    """Log lines with time, level and logger to stderr (the log file when detached)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, indent=1))
    temporary.replace(path)


def serve(settings: Settings) -> int:
    """Run the platform until SIGTERM/SIGINT; 0 after a clean stop, 1 when it could not start."""
    configure_logging(settings.log_level)
    files = platform_files(settings.data_dir)
    files["error"].unlink(missing_ok=True)
    started = False

    def fail(error: BaseException) -> None:
        if isinstance(error, SardonyxError):
            problem = error.to_problem()
            log.error("the platform cannot start: %s", error.message)
        else:
            problem = SardonyxError(f"the platform cannot start: {error!r}").to_problem()
            log.error("the platform cannot start", exc_info=error)
        _write_json(files["error"], problem)

    try:
        lock = acquire_lock(files["lock"])
    except AlreadyRunning as error:
        fail(error)
        return 1
    seaweedfs = None
    try:
        sock = bind_api_socket(settings.host, settings.port)
        if settings.s3.embedded:
            # started first: SeaweedFS boots (about 0.5-1 s) while Python imports the API and the runtime
            seaweedfs = SeaweedFS.for_settings(settings)
            seaweedfs.spawn()
        import uvicorn

        from sardonyx.api import create_app
        from sardonyx.platform import Platform

        platform = Platform(settings, seaweedfs=seaweedfs)
    except SardonyxError as error:
        fail(error)
        if seaweedfs is not None:
            seaweedfs.stop()
        lock.close()
        return 1

    def ready(platform: Platform) -> None:
        nonlocal started
        started = True
        _write_json(
            files["state"],
            {"pid": os.getpid(), "url": settings.api_url, "startedAt": time.time(), "version": __version__}
            | {"s3": platform.s3_endpoint.url if platform.s3_endpoint else None},
        )
        log.info("Sardonyx %s is up at %s (pid %s)", __version__, settings.api_url, os.getpid())

    app = create_app(platform, manage=True, on_ready=ready, on_failure=fail)
    config = uvicorn.Config(
        app, log_config=None, log_level=settings.log_level, access_log=False, lifespan="on", timeout_graceful_shutdown=5
    )
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        files["state"].unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            sock.close()
        lock.close()
    return 0 if started else 1


def main() -> None:
    """``python -m sardonyx.daemon``: serve with the settings of the environment."""
    from sardonyx.settings import is_settings_error, settings_error_lines

    try:
        settings = Settings()
    except Exception as error:
        if not is_settings_error(error):
            raise
        for line in settings_error_lines(error):
            print(f"error: invalid setting {line}", file=sys.stderr)
        sys.exit(2)
    sys.exit(serve(settings))


if __name__ == "__main__":
    main()
