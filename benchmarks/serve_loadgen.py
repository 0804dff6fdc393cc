"""An open-loop HTTP load generator: requests sent at a fixed rate whatever the server does (like wrk2 or
vegeta, which Debian does not package), over a few keep-alive HTTP/1.1 connections, on asyncio with uvloop.

Open loop means the schedule never waits for the server: request ``i`` is due at ``start + i / rate``. A slow
answer does not delay the next requests (a closed-loop client such as hey or wrk would send fewer requests while
the server is slow, and hide the slowness: "coordinated omission"). A request's latency runs from the moment the
schedule sent it off (waiting for a connection still busy with a slow answer counts) to the last byte of the
answer; the event loop's timer waking up a little late is not counted. The few lines of HTTP/1.1 spoken here are
enough for uvicorn: a GET, an answer with ``Content-Length``.

Usage from Python: ``asyncio.run(open_loop(url, rate=200, duration=60))`` -> :class:`LoadResult`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class LoadResult:
    """What one load run saw: ``latencies`` (ms, one per answered request), ``statuses`` (HTTP status ->
    count), ``errors`` (requests without an answer: connection errors, timeouts), ``sent`` and ``duration``
    (seconds from the first request due to the last answer)."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    sent: int = 0
    duration: float = 0.0

    @property
    def rate(self) -> float:
        """Answers per second."""
        return len(self.latencies) / self.duration if self.duration else 0.0

    @property
    def failures(self) -> int:
        """Requests without an answer plus answers other than 200."""
        return self.errors + sum(n for status, n in self.statuses.items() if status != 200)


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def exchange(self, request: bytes, timeout: float) -> int:
        """Send ``request``, read the whole answer; its status."""
        self.writer.write(request)
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), timeout)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        if length:
            await asyncio.wait_for(self.reader.readexactly(length), timeout)
        return status

    def close(self) -> None:
        self.writer.close()


async def open_loop(
    url: str, *, rate: float, duration: float, connections: int = 8, timeout: float = 10.0
) -> LoadResult:
    """GET ``url`` ``rate`` times a second for ``duration`` seconds, open loop; see the module docstring."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    request = f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: keep-alive\r\n\r\n".encode()
    pool: asyncio.Queue[_Connection] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(_Connection(*await asyncio.open_connection(host, port)))
    result = LoadResult()

    async def one(sent: float) -> None:
        # ``sent``: when the scheduler sent it off, a little after it was due when the timer was late (the
        # client's fault, not counted); waiting here for a connection busy with a slow answer counts
        connection = await pool.get()
        try:
            status = await connection.exchange(request, timeout)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            result.errors += 1
            connection.close()
            with contextlib.suppress(OSError):
                connection = _Connection(*await asyncio.open_connection(host, port))
        else:
            result.latencies.append((time.perf_counter() - sent) * 1000)
            result.statuses[status] = result.statuses.get(status, 0) + 1
        finally:
            pool.put_nowait(connection)

    total = int(rate * duration)
    start = time.perf_counter()
    tasks = []
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(time.perf_counter())))
        result.sent += 1
    await asyncio.gather(*tasks)
    result.duration = time.perf_counter() - start
    while not pool.empty():
        pool.get_nowait().close()
    return result


def run(url: str, *, rate: float, duration: float, connections: int = 8) -> LoadResult:
    """:func:`open_loop` on a uvloop event loop (finer and cheaper than asyncio's default loop)."""
    import uvloop

    return uvloop.run(open_loop(url, rate=rate, duration=duration, connections=connections))
