"""Supervision of the embedded S3 server: notice when SeaweedFS dies while the platform runs, and restart it.

``S3Supervisor`` checks every ``interval`` seconds that the server's process is alive. When it is not, it logs
how it ended and starts it again (same directory, same ports: the data and the per-project identities are on
disk), as a process supervisor would (systemd's ``Restart=on-failure`` with ``StartLimitBurst``): the first
restart at once, then after a delay doubling from ``backoff`` seconds (capped at ``max_backoff``); after
``max_restarts`` restarts within ``window`` seconds it gives up and reports ``failed`` (a crash loop is not
hidden behind endless restarts). Each state change is logged; ``snapshot()`` is what ``sardonyx status`` and
``/public/healthcheck`` report.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from sardonyx.errors import SardonyxError

log = logging.getLogger(__name__)

SupervisedState = Literal["running", "restarting", "failed"]


class SupervisedServer(Protocol):
    """What the supervisor needs of a server (``SeaweedFS`` implements it)."""

    @property
    def log_file(self) -> Path: ...

    def running_pid(self) -> int | None: ...

    def exit_description(self) -> str: ...

    def start(self, timeout: float = 30.0) -> None: ...

    def stop(self, timeout: float = 15.0) -> None: ...


@dataclass(frozen=True)
class SupervisionStatus:
    """What the supervisor knows, at one moment.

    Attributes:
        state: ``running`` (alive, or not yet found dead), ``restarting`` (dead; a restart is pending or under
            way), ``failed`` (given up after too many restarts, or a restart kept failing).
        pid: the server's process id when it runs.
        restarts: successful restarts since the platform started.
        last_exit: how the server ended the last time it died (a sentence), None if it never did.
        last_exit_at: when that was noticed (seconds since the epoch).
        attempt: the restart attempt under way (1-based) while ``restarting``.
        message: one sentence for a user.
    """

    state: SupervisedState
    pid: int | None
    restarts: int
    last_exit: str | None
    last_exit_at: float | None
    attempt: int
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "pid": self.pid,
            "restarts": self.restarts,
            "lastExit": self.last_exit,
            "lastExitAt": self.last_exit_at,
            "attempt": self.attempt,
            "message": self.message,
        }


class S3Supervisor:
    """Keeps one server running (see the module docstring).

    Args:
        server: the server to watch (already started).
        interval: seconds between two liveness checks.
        max_restarts: restarts allowed within ``window`` seconds; one more and the supervisor gives up.
        window: the sliding window of ``max_restarts``, in seconds.
        backoff: delay before the second restart within the window, in seconds (doubling after that).
        max_backoff: longest delay between two restarts, in seconds.
        start_timeout: how long one restart may take to answer, in seconds.
        name: how logs and messages call the server.
        clock: ``time.monotonic`` (tests may pass another).
    """

    def __init__(
        self,
        server: SupervisedServer,
        *,
        interval: float = 2.0,
        max_restarts: int = 5,
        window: float = 600.0,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        start_timeout: float = 30.0,
        name: str = "the embedded S3 server (SeaweedFS)",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.server = server
        self.interval = interval
        self.max_restarts = max_restarts
        self.window = window
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.start_timeout = start_timeout
        self.name = name
        self._clock = clock
        self._restart_times: deque[float] = deque()
        self._task: asyncio.Task[None] | None = None
        self._starting: asyncio.Future[None] | None = None
        self._state: SupervisedState = "running"
        self._restarts = 0
        self._attempt = 0
        self._last_exit: str | None = None
        self._last_exit_at: float | None = None
        self._title = name[:1].upper() + name[1:]
        self._message = f"{self._title} runs."

    # -- control ---------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start watching (from the event loop)."""
        if self._task is None:
            self._task = asyncio.ensure_future(self._watch())

    async def stop(self) -> None:
        """Stop watching; a restart under way is waited for (so that the caller may stop the server next)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._starting is not None:
            with contextlib.suppress(Exception):
                await self._starting

    @property
    def watching(self) -> bool:
        return self._task is not None and not self._task.done()

    # -- reading ---------------------------------------------------------------------------------------------

    def snapshot(self) -> SupervisionStatus:
        """The current status (the pid is read now: a server that died since the last check is reported
        ``restarting`` at once, its restart being at most ``interval`` seconds away)."""
        state, message = self._state, self._message
        pid = self.server.running_pid() if state == "running" else None
        if state == "running" and pid is None and self.watching:
            state, message = "restarting", f"{self._title} does not run; it is being restarted."
        return SupervisionStatus(
            state=state,
            pid=pid,
            restarts=self._restarts,
            last_exit=self._last_exit,
            last_exit_at=self._last_exit_at,
            attempt=self._attempt,
            message=message,
        )

    # -- the loop --------------------------------------------------------------------------------------------

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            if self._state == "failed":
                return
            try:
                alive = self.server.running_pid() is not None
            except Exception:  # reading the process table failed: try again at the next tick
                log.exception("could not check %s", self.name)
                continue
            if not alive:
                await self._recover()

    async def _recover(self) -> None:
        ended = self.server.exit_description()
        self._last_exit, self._last_exit_at = ended, time.time()
        log.warning("%s %s; restarting it (log: %s)", self.name, ended, self.server.log_file)
        self._attempt = 0
        while True:
            now = self._clock()
            while self._restart_times and now - self._restart_times[0] > self.window:
                self._restart_times.popleft()
            recent = len(self._restart_times)
            if recent >= self.max_restarts:
                self._give_up(
                    f"{self._title} stopped again after {recent} restarts within "
                    f"{self.window:g} s; it is not restarted any more (last: it {ended}). Its log: "
                    f"{self.server.log_file}. `sardonyx down` then `sardonyx up` start it anew."
                )
                return
            self._attempt += 1
            delay = 0.0 if recent == 0 else min(self.backoff * 2 ** (recent - 1), self.max_backoff)
            when = f" in {delay:g} s" if delay else ""
            self._set("restarting", f"{self._title} {ended}; restarting it{when} (attempt {self._attempt}).")
            if delay:
                await asyncio.sleep(delay)
            self._restart_times.append(self._clock())
            error = await self._start_once()
            if error is None:
                self._restarts += 1
                pid = self.server.running_pid()
                self._set("running", f"{self._title} runs again (pid {pid}).")
                log.warning("%s restarted (pid %s, restart %d)", self.name, pid, self._restarts)
                self._attempt = 0
                return
            ended = f"could not be restarted ({error})"
            log.warning("restart %d of %s failed: %s", self._attempt, self.name, error)

    async def _start_once(self) -> str | None:
        """Start the server in a worker thread; None when it answers, else why it did not."""

        def start() -> None:
            try:
                self.server.start(self.start_timeout)
            except BaseException:
                with contextlib.suppress(Exception):
                    self.server.stop(5.0)  # a half-started server must not hold the ports of the next try
                raise

        self._starting = asyncio.get_running_loop().run_in_executor(None, start)
        try:
            await asyncio.shield(self._starting)
        except SardonyxError as error:
            return error.message
        except Exception as error:
            return repr(error)
        finally:
            if self._starting.done():
                self._starting = None
        return None

    def _give_up(self, message: str) -> None:
        self._set("failed", message)
        log.error("%s", message)

    def _set(self, state: SupervisedState, message: str) -> None:
        self._state = state
        self._message = message
