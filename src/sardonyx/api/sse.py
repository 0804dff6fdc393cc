"""Server-sent events with keep-alives (the progress and events streams).

A producer task pulls from the source iterator into a queue; the response waits on the queue with a timeout and
sends a comment line (``: keep-alive``) when nothing came, so proxies and clients do not drop an idle stream.
Cancelling a queue read is safe, unlike cancelling an async generator's ``__anext__``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from starlette.responses import StreamingResponse

T = TypeVar("T")

_DONE = object()


def frame(data: Any, *, event: str | None = None, event_id: int | str | None = None) -> str:
    """One SSE frame: optional ``event:`` and ``id:`` lines, then ``data:`` with compact JSON, then a blank line."""
    lines = []
    if event is not None:
        lines.append(f"event: {event}")
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append("data: " + json.dumps(data, separators=(",", ":")))
    return "\n".join(lines) + "\n\n"


async def with_keepalive(
    source: AsyncIterator[T], render: Callable[[T], str], keepalive_seconds: float
) -> AsyncIterator[str]:
    """``render(item)`` for every item of ``source``, and ``: keep-alive`` after each quiet interval."""
    queue: asyncio.Queue[object] = asyncio.Queue(100)

    async def pump() -> None:
        try:
            async for item in source:
                await queue.put(item)
        finally:
            await queue.put(_DONE)

    producer = asyncio.ensure_future(pump())
    try:
        yield ": stream open\n\n"
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), keepalive_seconds)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            if item is _DONE:
                break
            yield render(item)  # type: ignore[arg-type]
        await producer  # re-raise what the source raised
    finally:
        producer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await producer
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()


def sse_response(stream: AsyncIterator[str]) -> StreamingResponse:
    """A ``text/event-stream`` response that proxies must not buffer."""
    return StreamingResponse(
        stream,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
