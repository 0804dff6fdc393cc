"""The S3 server's supervisor on a fake server: it notices a death, restarts at once then with a growing delay,
gives up after too many restarts in its window, and reports each state."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest

from sardonyx.errors import UnavailableError
from sardonyx.storage.supervision import S3Supervisor

pytestmark = pytest.mark.anyio


class FakeServer:
    """A server whose process can be 'killed'; ``failing_starts`` next starts fail."""

    def __init__(self) -> None:
        self.pid = 1000
        self.alive = True
        self.starts = 0
        self.failing_starts = 0
        self.stops = 0

    @property
    def log_file(self) -> Path:
        return Path("/data/seaweedfs/weed.log")

    def running_pid(self) -> int | None:
        return self.pid if self.alive else None

    def exit_description(self) -> str:
        return "was killed by signal SIGKILL"

    def start(self, timeout: float = 30.0) -> None:
        self.starts += 1
        if self.failing_starts:
            self.failing_starts -= 1
            raise UnavailableError("SeaweedFS exited with status 1 while starting: port 8430 is taken")
        self.alive = True
        self.pid += 1

    def stop(self, timeout: float = 15.0) -> None:
        self.stops += 1
        self.alive = False


async def wait_for(condition: object, seconds: float = 5.0) -> None:
    assert callable(condition)
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


async def test_a_dead_server_is_noticed_reported_and_restarted(caplog: pytest.LogCaptureFixture) -> None:
    server = FakeServer()
    supervisor = S3Supervisor(server, interval=0.01, backoff=0.05)
    supervisor.start()
    try:
        assert supervisor.snapshot().state == "running" and supervisor.snapshot().pid == 1000
        supervisor.interval = 3600  # long enough to read the state between the death and its discovery
        await asyncio.sleep(0.05)
        server.alive = False
        unnoticed = supervisor.snapshot()
        assert unnoticed.state == "restarting" and unnoticed.message.endswith("does not run; it is being restarted.")
        supervisor.interval = 0.01
        await supervisor.stop()  # the sleep of an hour ends here: watching again checks at once
        supervisor.start()
        await wait_for(lambda: supervisor.snapshot().restarts == 1)
        status = supervisor.snapshot()
        assert status.state == "running" and status.pid == 1001
        assert status.last_exit == "was killed by signal SIGKILL" and status.last_exit_at is not None
        assert "runs again (pid 1001)" in status.message
        assert status.as_dict()["lastExit"] == "was killed by signal SIGKILL"
    finally:
        await supervisor.stop()
    logged = [r.getMessage() for r in caplog.records]
    assert any("was killed by signal SIGKILL; restarting it (log: /data/seaweedfs/weed.log)" in m for m in logged)
    assert any("restarted (pid 1001, restart 1)" in m for m in logged)


async def test_failed_restarts_are_retried_with_a_growing_delay() -> None:
    server = FakeServer()
    moments: list[float] = []
    loop = asyncio.get_running_loop()
    original = server.start

    def timed_start(timeout: float = 30.0) -> None:
        moments.append(loop.time())
        original(timeout)

    server.start = timed_start  # type: ignore[method-assign]
    supervisor = S3Supervisor(server, interval=0.01, backoff=0.1, max_restarts=5)
    supervisor.start()
    try:
        server.failing_starts = 2
        server.alive = False
        await wait_for(lambda: "(attempt 2)" in supervisor.snapshot().message)
        assert supervisor.snapshot().state == "restarting"
        assert supervisor.snapshot().message == (
            "The embedded S3 server (SeaweedFS) could not be restarted (SeaweedFS exited with status 1 while "
            "starting: port 8430 is taken); restarting it in 0.1 s (attempt 2)."
        )
        await wait_for(lambda: supervisor.snapshot().restarts == 1)
        assert server.starts == 3 and server.stops == 2  # a failed start is cleaned up before the next
        gaps = [b - a for a, b in itertools.pairwise(moments)]
        assert gaps[0] >= 0.09 and gaps[1] >= 0.19  # 0 s, then 0.1 s, then 0.2 s
        assert supervisor.snapshot().state == "running"
    finally:
        await supervisor.stop()


async def test_it_gives_up_after_too_many_restarts_in_its_window(caplog: pytest.LogCaptureFixture) -> None:
    server = FakeServer()
    supervisor = S3Supervisor(server, interval=0.01, backoff=0.0, max_restarts=2, window=60)
    supervisor.start()
    try:
        for restarts in (1, 2):
            server.alive = False
            await wait_for(lambda restarts=restarts: supervisor.snapshot().restarts == restarts)
        server.alive = False
        await wait_for(lambda: supervisor.snapshot().state == "failed")
        status = supervisor.snapshot()
        assert status.pid is None and status.restarts == 2
        assert "after 2 restarts within 60 s; it is not restarted any more" in status.message
        assert "/data/seaweedfs/weed.log" in status.message and "sardonyx down" in status.message
        await wait_for(lambda: not supervisor.watching)
        assert server.starts == 2
    finally:
        await supervisor.stop()
    assert any(r.levelname == "ERROR" and "not restarted any more" in r.getMessage() for r in caplog.records)


async def test_stopping_waits_for_a_restart_under_way() -> None:
    server = FakeServer()
    started = asyncio.Event()
    release = asyncio.Event()
    loop = asyncio.get_running_loop()
    original = server.start

    def slow_start(timeout: float = 30.0) -> None:
        loop.call_soon_threadsafe(started.set)
        asyncio.run_coroutine_threadsafe(release.wait(), loop).result(5)
        original(timeout)

    server.start = slow_start  # type: ignore[method-assign]
    supervisor = S3Supervisor(server, interval=0.01)
    supervisor.start()
    server.alive = False
    await started.wait()
    stopping = asyncio.ensure_future(supervisor.stop())
    await asyncio.sleep(0.05)
    assert not stopping.done()  # the caller stops the server next: the restart must be over first
    release.set()
    await stopping
    assert server.alive and not supervisor.watching
