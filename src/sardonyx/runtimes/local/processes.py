"""Processes of the local runtime: free loopback ports, starting the shim, reading how a service ended,
stopping a process tree.

A service's processes are identified by (pid, create time) pairs, so a recycled pid is never mistaken for
the service after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

SHIM = Path(__file__).with_name("shim.py")
LOOPBACK = "127.0.0.1"


def free_port(avoid: Iterable[int] = ()) -> int:
    """A TCP port free on 127.0.0.1 now (chosen by the kernel), not in ``avoid``."""
    taken = set(avoid)
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((LOOPBACK, 0))
            port: int = sock.getsockname()[1]
        if port not in taken:
            return port
    raise OSError("no free port found on 127.0.0.1")


def port_is_free(port: int) -> bool:
    """Whether a server could listen on 127.0.0.1:``port`` now (tested as servers bind: SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
            sock.listen(1)
        except OSError:
            return False
    return True


def process_if_alive(pid: int | None, create_time: float | None) -> psutil.Process | None:
    """The process ``pid`` if it still runs and is the one created at ``create_time`` (not a recycled pid);
    zombies count as dead."""
    if not pid:
        return None
    try:
        process = psutil.Process(pid)
        if create_time is not None and abs(process.create_time() - create_time) > 0.5:
            return None
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
    except psutil.Error:
        return None
    return process


@dataclass(frozen=True)
class ExitInfo:
    """How a service's command ended. ``lost``: its supervisor vanished without saying (SIGKILL, reboot)."""

    exit_code: int | None
    signal: str | None = None
    requested: bool = False
    lost: bool = False
    error: str | None = None
    ended_at: float | None = None

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0 and not self.lost

    def describe(self) -> str:
        if self.lost:
            return "disappeared without an exit status (its supervisor was killed)"
        if self.error:
            return f"could not be started: {self.error}"
        if self.signal:
            return f"was killed by signal {self.signal}"
        return f"exited with status {self.exit_code}"

    @classmethod
    def from_file(cls, path: Path) -> ExitInfo | None:
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return cls(
            exit_code=data.get("exit_code"),
            signal=data.get("signal"),
            requested=bool(data.get("requested")),
            error=data.get("error"),
            ended_at=data.get("ended_at"),
        )


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data


def spawn_shim(
    *,
    state_dir: Path,
    argv: list[str],
    env: Mapping[str, str],
    workdir: Path,
    log_path: Path,
    grace: float,
    log_max_bytes: int | None = None,
    log_backups: int = 3,
) -> int:
    """Start ``argv`` under the shim, in a new session, output appended to ``log_path``; return the shim's
    pid. With ``log_max_bytes`` the shim rotates the log past that size, keeping ``log_backups`` older files
    (``shim.rotate_log``). Blocking (a few tens of ms, the shim's start-up): call it in a thread.

    Raises:
        OSError: the shim could not be started.
    """
    for name in ("exit.json", "process.json"):
        (state_dir / name).unlink(missing_ok=True)
    rotation = ["--log", str(log_path), str(log_max_bytes), str(log_backups)] if log_max_bytes else []
    read_end, write_end = os.pipe()
    try:
        with log_path.open("ab") as log:
            launcher = subprocess.Popen(
                [sys.executable, "-I", str(SHIM), str(state_dir), f"{grace:g}", str(write_end), *rotation, "--", *argv],
                cwd=workdir,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
                pass_fds=(write_end,),
            )
        os.close(write_end)
        write_end = -1
        launcher.wait()
        report = b""
        while chunk := os.read(read_end, 64):
            report += chunk
    finally:
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)
    if not report.strip().isdigit():
        raise OSError(f"the supervisor shim did not start (exit status {launcher.returncode})")
    return int(report)


def create_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _tree(roots: list[psutil.Process]) -> list[psutil.Process]:
    """The roots and all their descendants (those alive now)."""
    found: list[psutil.Process] = []
    for root in roots:
        found.append(root)
        with contextlib.suppress(psutil.Error):
            found.extend(root.children(recursive=True))
    return found


async def _wait_gone(processes: list[psutil.Process], seconds: float, reap: Callable[[], None] | None) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        if reap is not None:
            reap()
        if not any(_alive(p) for p in processes):
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.05)


def _send(processes: list[psutil.Process], sig: int) -> None:
    for process in processes:
        with contextlib.suppress(psutil.Error):
            if _alive(process):
                process.send_signal(sig)


async def stop_tree(
    shim: psutil.Process | None,
    child: psutil.Process | None,
    *,
    grace: float,
    reap: Callable[[], None] | None = None,
) -> None:
    """SIGTERM the service (through its shim when alive, which forwards to the whole tree), SIGKILL whatever
    is left after ``grace`` seconds. ``reap`` is called while waiting (to collect our own zombie shim)."""
    roots = [p for p in (shim, child) if p is not None]
    victims = _tree(roots)
    if not victims:
        return
    _send([shim] if shim is not None and _alive(shim) else victims, signal.SIGTERM)
    # the shim needs a moment after its own grace period to reap and write exit.json
    if await _wait_gone(victims, grace + 1.0, reap):
        return
    victims += _tree([r for r in roots if _alive(r)])  # started during the grace period
    _send(victims, signal.SIGKILL)
    await _wait_gone(victims, 2.0, reap)


async def http_status(port: int, path: str, headers: Mapping[str, str], timeout: float = 2.0) -> int | None:
    """The status code of ``GET http://127.0.0.1:<port><path>``, or None when nothing answers in time.

    A minimal HTTP/1.1 client on purpose: readiness probes run every few tens of milliseconds and must cost
    nothing (no TLS context, no proxy settings, nothing to import). Header values are checked for CR/LF.
    """
    lines = [f"GET {path} HTTP/1.1", f"Host: {LOOPBACK}:{port}", "Connection: close", "User-Agent: sardonyx-probe"]
    for name, value in headers.items():
        if any(c in name + value for c in "\r\n"):
            raise ValueError(f"header {name!r} contains a line break")
        lines.append(f"{name}: {value}")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", errors="replace")
    writer = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(LOOPBACK, port)
            writer.write(request)
            await writer.drain()
            status_line = await reader.readline()
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        return None
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
    parts = status_line.split()
    if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1].isdigit():
        return int(parts[1])
    return None
