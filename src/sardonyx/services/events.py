"""In-process publication of service events: every recorded transition reaches the streams that listen.

Listeners (the ``/my-lab/events`` SSE stream, the web UI) subscribe per project; a slow listener loses the
oldest events rather than slowing the platform (bounded queues). History comes from the state store.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from sardonyx.services.model import ServiceEvent


class EventBus:
    """Fan-out of ``ServiceEvent`` to subscribers of a project (or of every project, ``project=None``)."""

    def __init__(self, queue_size: int = 1000) -> None:
        self.queue_size = queue_size
        self._subscribers: set[tuple[str | None, asyncio.Queue[ServiceEvent]]] = set()

    def publish(self, event: ServiceEvent) -> None:
        """Deliver ``event`` to every matching subscriber, dropping a subscriber's oldest event when full."""
        for project, queue in list(self._subscribers):
            if project is not None and project != event.project:
                continue
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(event)

    @contextlib.asynccontextmanager
    async def subscribe(self, project: str | None) -> AsyncIterator[asyncio.Queue[ServiceEvent]]:
        """A queue receiving the events of ``project`` (every project when None) while the context is open."""
        queue: asyncio.Queue[ServiceEvent] = asyncio.Queue(self.queue_size)
        entry = (project, queue)
        self._subscribers.add(entry)
        try:
            yield queue
        finally:
            self._subscribers.discard(entry)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)
