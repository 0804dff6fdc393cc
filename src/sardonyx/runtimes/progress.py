"""Building blocks shared by runtimes: a followable progress log and an in-memory state store."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

from sardonyx.runtimes.base import ProgressEvent

TERMINAL_KINDS = frozenset({"ready", "failed"})


def event_from_dict(data: Mapping[str, Any]) -> ProgressEvent:
    """The inverse of ``ProgressEvent.as_dict``."""
    return ProgressEvent(
        kind=data["kind"], progress=int(data["progress"]), message=str(data["message"]), timestamp=data["timestamp"]
    )


class ProgressLog:
    """The progress events of one start-up of a service, replayable and followable.

    ``follow`` yields every event so far, then new ones as they are appended, and ends after the first
    ``ready`` or ``failed`` event. Followers run in the event loop that appends (one loop per runtime).
    """

    def __init__(self, events: Iterable[ProgressEvent] = ()) -> None:
        self.events: list[ProgressEvent] = list(events)
        self._changed = asyncio.Event()
        self._closed = False

    @property
    def finished(self) -> bool:
        return any(e.kind in TERMINAL_KINDS for e in self.events)

    def append(self, event: ProgressEvent) -> None:
        self.events.append(event)
        self._changed.set()
        self._changed = asyncio.Event()

    def close(self) -> None:
        """Wake every follower (used when the service is deleted): they end after the events so far."""
        self._closed = True
        self._changed.set()

    async def follow(self) -> AsyncIterator[ProgressEvent]:
        index = 0
        while True:
            while index < len(self.events):
                event = self.events[index]
                index += 1
                yield event
                if event.kind in TERMINAL_KINDS:
                    return
            if self._closed:
                return
            await self._changed.wait()


class InMemoryStateStore:
    """A ``RuntimeStateStore`` in a dict (tests, and runtimes that need not survive the process).

    Documents are deep-copied in and out, as a database would, so callers cannot alias stored state.
    """

    def __init__(self) -> None:
        self._docs: dict[str, dict[str, Any]] = {}

    def save(self, service_id: str, state: Mapping[str, Any]) -> None:
        self._docs[service_id] = copy.deepcopy(dict(state))

    def load(self, service_id: str) -> dict[str, Any] | None:
        doc = self._docs.get(service_id)
        return None if doc is None else copy.deepcopy(doc)

    def delete(self, service_id: str) -> None:
        self._docs.pop(service_id, None)

    def all(self) -> dict[str, dict[str, Any]]:
        return copy.deepcopy(self._docs)
