"""The supervisor shim: runs one service's command, records its pids and how it ended.

Started by the local runtime as
``python -I shim.py STATE_DIR GRACE_SECONDS REPORT_FD [--log PATH MAX_BYTES BACKUPS] -- PROGRAM [ARG...]``,
with the service's working directory, environment and log file. It daemonizes at once: it forks, the child
starts a new session (its own process group) and writes its pid to the pipe ``REPORT_FD``, the parent exits.
So the shim is never the platform's child (nothing for the platform to reap, the same code path before and
after a platform restart) and it outlives the platform; the platform learns from files what it cannot
``wait()`` for:

- ``STATE_DIR/process.json``: ``{"shim_pid", "child_pid", "child_create_time", "started_at"}`` once started;
- ``STATE_DIR/exit.json``: ``{"exit_code", "signal", "requested", "ended_at", "error"}`` when the command has
  ended (``exit_code`` None and ``signal`` set when a signal killed it; ``requested`` when the stop came
  from SIGTERM/SIGINT/SIGHUP sent to the shim).

On SIGTERM, SIGINT or SIGHUP the shim forwards SIGTERM to every descendant, and SIGKILL after
``GRACE_SECONDS``. It makes itself a child subreaper, so processes that detach (Jupyter kernels start in
their own session) stay its descendants; whatever is left when the command ends is terminated too, as a pod's
containers are. Only the standard library and psutil are used: the shim starts in a few tens of ms.

With ``--log``, the shim keeps the log file under ``MAX_BYTES`` while the command runs (``rotate_log``, checked
every second): the service writes to its inherited descriptor without knowing, as with logrotate's
``copytruncate``.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

import psutil

PR_SET_CHILD_SUBREAPER = 36


def _write_json(path: Path, data: dict[str, Any]) -> None:
    temp = path.with_name(path.name + ".tmp")
    temp.write_text(json.dumps(data), encoding="utf-8")
    temp.replace(path)


def _set_subreaper() -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _signal_descendants(sig: int) -> None:
    try:
        descendants = psutil.Process().children(recursive=True)
    except psutil.Error:
        return
    for process in descendants:
        with contextlib.suppress(psutil.Error):
            process.send_signal(sig)


def _reap_all(deadline: float) -> None:
    """Reap children until none is left or ``deadline`` passes (orphans adopted as subreaper included)."""
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.02)


def rotated_names(path: Path, backups: int) -> list[Path]:
    """The backups of a rotated log, newest first: ``service.log.1`` ... ``service.log.<backups>``."""
    return [path.with_name(f"{path.name}.{index}") for index in range(1, backups + 1)]


def rotate_log(path: Path, max_bytes: int, backups: int) -> bool:
    """Rotate ``path`` when it holds more than ``max_bytes``: backups shift (``.1`` -> ``.2``..., the oldest is
    dropped), the file's content is copied to ``.1``, then the file is truncated in place. Returns True when
    it rotated.

    Copy-then-truncate (logrotate's ``copytruncate``) because the service keeps writing to the descriptor it
    inherited, opened with ``O_APPEND``: its next write lands at the start of the emptied file, nothing to
    reopen. Lines written in the instant between the copy and the truncation are lost; readers that follow
    the log (``sardonyx logs --follow``) notice the truncation and read the rest of ``.1`` first.
    """
    try:
        if path.stat().st_size <= max_bytes:
            return False
    except OSError:
        return False
    names = rotated_names(path, backups)
    for older, newer in zip(reversed(names[1:]), reversed(names[:-1]), strict=True):
        if newer.exists():
            newer.replace(older)
    first = names[0]
    temporary = first.with_name(first.name + ".tmp")
    with path.open("rb") as source, temporary.open("wb") as target:
        while chunk := source.read(1024 * 1024):
            target.write(chunk)
    temporary.replace(first)  # in place before the truncation: a follower that sees it finds the lines in .1
    os.truncate(path, 0)
    return True


def _rotate_every(path: Path, max_bytes: int, backups: int, seconds: float = 1.0) -> None:
    while True:
        time.sleep(seconds)
        try:
            rotate_log(path, max_bytes, backups)
        except OSError as error:  # a full disk: say it once in a while, keep the service running
            print(f"sardonyx: cannot rotate {path.name}: {error}", flush=True)
            time.sleep(60)


def main(argv: list[str]) -> int:
    usage = "usage: shim.py STATE_DIR GRACE_SECONDS REPORT_FD [--log PATH MAX_BYTES BACKUPS] -- PROGRAM [ARG...]"
    if "--" not in argv[4:] or len(argv) < 6:
        print(usage, file=sys.stderr)
        return 2
    separator = argv.index("--", 4)
    options, command = argv[4:separator], argv[separator + 1 :]
    if not command or (options and (len(options) != 4 or options[0] != "--log")):
        print(usage, file=sys.stderr)
        return 2
    state_dir, grace, report_fd = Path(argv[1]), float(argv[2]), int(argv[3])
    exit_path = state_dir / "exit.json"
    if os.fork() > 0:
        os._exit(0)  # the parent: the runtime waits for it, then reads the supervisor's pid
    os.setsid()
    os.write(report_fd, str(os.getpid()).encode())
    os.close(report_fd)
    _set_subreaper()
    if options:
        log_path, max_bytes, backups = Path(options[1]), int(options[2]), int(options[3])
        threading.Thread(target=_rotate_every, args=(log_path, max_bytes, backups), daemon=True).start()
    requested = False

    def on_stop(signum: int, frame: FrameType | None) -> None:
        nonlocal requested
        requested = True
        _signal_descendants(signal.SIGTERM)
        signal.setitimer(signal.ITIMER_REAL, max(grace, 0.01))

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        _signal_descendants(signal.SIGKILL)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_stop)
    signal.signal(signal.SIGALRM, on_alarm)

    if requested:  # stopped before anything started
        _write_json(
            exit_path,
            {"exit_code": None, "signal": "SIGTERM", "requested": True, "ended_at": time.time(), "error": None},
        )
        return 0
    try:
        child = subprocess.Popen(command)  # same cwd, environment, log file and process group
    except OSError as error:
        print(f"sardonyx: cannot start {command[0]!r}: {error.strerror or error}", flush=True)
        _write_json(
            exit_path,
            {"exit_code": 127, "signal": None, "requested": False, "ended_at": time.time(), "error": str(error)},
        )
        return 0
    _record_start(state_dir, child.pid, time.time())
    code = _wait_for(child.pid)
    # what the command left behind (detached helpers, kernels) goes with it
    _signal_descendants(signal.SIGTERM)
    _reap_all(time.monotonic() + min(max(grace, 0.5), 5.0))
    _signal_descendants(signal.SIGKILL)
    _reap_all(time.monotonic() + 1.0)
    _write_json(exit_path, _exit_record(code, requested))
    return 0


def _record_start(state_dir: Path, child_pid: int, started_at: float) -> None:
    try:
        child_create_time: float | None = psutil.Process(child_pid).create_time()
    except psutil.Error:
        child_create_time = None
    _write_json(
        state_dir / "process.json",
        {
            "shim_pid": os.getpid(),
            "child_pid": child_pid,
            "child_create_time": child_create_time,
            "started_at": started_at,
        },
    )


def _wait_for(child_pid: int) -> int:
    """Reap children (orphans adopted as subreaper included) until ``child_pid`` ends; its exit code
    (negative: killed by that signal)."""
    status = 0
    while True:
        try:
            pid, status = os.waitpid(-1, 0)  # PEP 475: retried after our signal handlers run
        except ChildProcessError:
            break
        if pid == child_pid:
            break
    return os.waitstatus_to_exitcode(status)


def _exit_record(code: int, requested: bool) -> dict[str, Any]:
    signame = None
    if code < 0:
        with contextlib.suppress(ValueError):
            signame = signal.Signals(-code).name
    return {
        "exit_code": code if code >= 0 else None,
        "signal": signame or (str(-code) if code < 0 else None),
        "requested": requested,
        "ended_at": time.time(),
        "error": None,
    }


if __name__ == "__main__":
    sys.exit(main(sys.argv))
